# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Reading the inputs of inference (images, folders of images, videos) and
writing videos; OpenCV does the decoding and encoding."""
import math
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
    """Read an image as mmseg's ``LoadImageFromFile`` does (OpenCV, 3-channel
    BGR ``uint8``); :class:`MediaReadError` if the file is missing,
    unreadable or not an image OpenCV can decode."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise MediaReadError(f'cannot read image {path}: {e.strerror}') \
            from e
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise MediaReadError(
            f'cannot read image {path}: not an image OpenCV can decode '
            f'(corrupt or truncated file?)')
    return image


def open_video(
        path: str) -> Tuple[cv2.VideoCapture, float, int, Tuple[int, int]]:
    """Open a video: ``(capture, fps, frame_count, (width, height))``;
    ``frame_count`` is the container's (0: unknown), ``fps`` NaN when the
    container does not say; :class:`MediaReadError` if OpenCV cannot open
    the file."""
    if not osp.isfile(path):
        raise MediaReadError(f'cannot read video {path}: no such file')
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise MediaReadError(
            f'cannot read video {path}: OpenCV cannot open it '
            f'(corrupt file or unsupported codec?)')
    fps = cap.get(cv2.CAP_PROP_FPS)
    if not fps or fps <= 0 or math.isnan(fps):
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
    try:
        if not threaded:
            ok, frame = capture.read()
            while ok:
                yield frame
                ok, frame = capture.read()
            return
        with ThreadPoolExecutor(1, 'FrameReader') as pool:
            ahead = deque(pool.submit(capture.read)
                          for _ in range(QUEUE_SIZE))
            try:
                while True:
                    ok, frame = ahead.popleft().result()
                    if not ok:
                        return
                    ahead.append(pool.submit(capture.read))
                    yield frame
            finally:
                for future in ahead:
                    future.cancel()
    finally:
        capture.release()


class VideoWriter:
    """Overlays into an MPEG-4 (``mp4v``) video at ``fps`` and ``size`` =
    (width, height); with ``threaded``, a writer thread encodes while the
    caller segments the next frame (up to :data:`QUEUE_SIZE` frames queue);
    OSError if OpenCV cannot open the file for writing."""

    def __init__(self, path: str, fps: float, size: Tuple[int, int],
                 threaded: bool = True):
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        self.writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'),
                                      fps, size)
        if not self.writer.isOpened():
            raise OSError(
                f'cannot write video {path} (OpenCV VideoWriter, mp4v)')
        self.pool = ThreadPoolExecutor(1, 'FrameWriter') if threaded \
            else None
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
