# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Reading the inputs of inference (images, folders of images, videos) and
writing videos; OpenCV does the decoding and encoding."""
import os
import os.path as osp
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Tuple

import cv2
import numpy as np

from rgpnet_mmseg.utils.files import (  # noqa: F401  (re-exported)
    IMAGE_EXTENSIONS, list_images)

#: File name endings read as videos (by OpenCV's ``VideoCapture``).
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg',
                    '.mpeg', '.wmv', '.flv')
#: Frames decoded ahead, or waiting to be encoded, at most.
QUEUE_SIZE = 8


class MediaReadError(OSError):
    """An input file cannot be read or decoded; the message names it."""


def read_image(path: str) -> np.ndarray:
    """Read a BGR ``uint8`` image as mmseg's ``LoadImageFromFile``;
    :class:`MediaReadError` if it is missing or cannot be decoded."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise MediaReadError(f'cannot read image {path}: {e.strerror}') from e
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise MediaReadError(f'cannot read image {path}: not an image OpenCV '
                             f'can decode (corrupt or truncated file?)')
    return image


def open_video(
        path: str) -> Tuple[cv2.VideoCapture, float, int, Tuple[int, int]]:
    """``(capture, fps, frame_count, (width, height))``; count 0 and fps NaN
    if unknown; :class:`MediaReadError` if OpenCV cannot open it."""
    if not osp.isfile(path):
        raise MediaReadError(f'cannot read video {path}: no such file')
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise MediaReadError(f'cannot read video {path}: OpenCV cannot open '
                             f'it (corrupt file or unsupported codec?)')
    fps = cap.get(cv2.CAP_PROP_FPS)
    if not fps > 0:  # 0, negative or NaN: unknown
        fps = float('nan')
    count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    return cap, fps, count, size


def read_frames(capture: cv2.VideoCapture,
                threaded: bool = True) -> Iterator[np.ndarray]:
    """The frames of an opened capture, in order (released at the end);
    ``threaded``: a thread decodes up to :data:`QUEUE_SIZE` frames ahead
    (OpenCV and the backends release the GIL; docs/inference.md)."""
    pool = ThreadPoolExecutor(1, 'FrameReader') if threaded else None
    try:
        ahead = deque([pool.submit(capture.read) for _ in range(QUEUE_SIZE)]
                      if pool else [])  # the reads in flight
        while True:
            ok, frame = ahead.popleft().result() if pool else capture.read()
            if not ok:
                return
            if pool:
                ahead.append(pool.submit(capture.read))
            yield frame
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        capture.release()


class VideoWriter:
    """Frames into an ``mp4v`` video at ``fps`` and ``size`` = (width,
    height), ``threaded``: encoded in a thread (up to :data:`QUEUE_SIZE`
    queue); OSError if OpenCV cannot open the file."""

    def __init__(self, path: str, fps: float, size: Tuple[int, int],
                 threaded: bool = True):
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        self.writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'),
                                      fps, size)
        if not self.writer.isOpened():
            raise OSError(
                f'cannot write video {path} (OpenCV VideoWriter, mp4v)')
        self.pool = ThreadPoolExecutor(1, 'FrameWriter') if threaded else None
        self.pending: deque = deque()

    def write(self, frame: np.ndarray) -> None:
        if self.pool is None:
            return self.writer.write(frame)
        self.pending.append(self.pool.submit(self.writer.write, frame))
        if len(self.pending) > QUEUE_SIZE:
            self.pending.popleft().result()

    def close(self) -> None:
        """Encode what is queued, stop the thread, release the writer."""
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            if self.pool is not None:
                self.pool.shutdown()
            self.writer.release()
