# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Reading the inputs of inference: images, folders of images and videos
(OpenCV does the decoding and encoding)."""
import math
import os
import os.path as osp
import queue
import threading
from typing import Iterator, List, Optional, Tuple

import cv2
import numpy as np

#: File name endings read as images (by OpenCV).
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp',
                    '.ppm', '.pgm', '.pbm', '.jp2')
#: File name endings read as videos (by OpenCV's ``VideoCapture``).
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg',
                    '.mpeg', '.wmv', '.flv')


class MediaReadError(OSError):
    """An input file cannot be read or decoded; the message names it."""


def is_image_file(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS)


def is_video_file(path: str) -> bool:
    return path.lower().endswith(VIDEO_EXTENSIONS)


def read_image(path: str) -> np.ndarray:
    """Read an image as OpenCV does for mmseg's ``LoadImageFromFile``
    (3-channel BGR ``uint8``).

    Raises:
        MediaReadError: the file is missing, unreadable or not an image
            OpenCV can decode.
    """
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


def list_images(folder: str) -> List[str]:
    """The image files under ``folder`` (recursively, sorted), by ending.

    Files with other endings are left out; an image file that turns out
    unreadable is reported when it is read."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if is_image_file(name):
                found.append(osp.join(root, name))
    return found


def open_video(
        path: str) -> Tuple[cv2.VideoCapture, float, int, Tuple[int, int]]:
    """Open a video for reading.

    Returns:
        tuple: ``(capture, fps, frame_count, (width, height))``;
        ``frame_count`` is the container's count (0 when unknown), ``fps``
        is NaN when the container does not say.

    Raises:
        MediaReadError: OpenCV cannot open or decode the file.
    """
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


class FrameReader:
    """Decode the frames of a ``cv2.VideoCapture`` in a background thread
    into a bounded queue, and hand them out in order.

    Why: decoding a frame (OpenCV/FFmpeg) and running the network (PyTorch,
    ONNX Runtime, TensorRT) both release the GIL, so a reader thread lets
    the next frame be decoded while the current one is being segmented;
    serially, every frame pays decode + inference.

    When it pays: when decoding (and encoding, :class:`FrameWriter`) is a
    sizeable part of the time per frame and there is a core or a GPU to do
    it beside the network. Measured on this project's shared 2-core CPU
    machine with the demo model in ONNX Runtime, on a 1080p mp4v video:
    decoding 14 ms, network with pre/post-processing 100 ms, overlay 22 ms,
    encoding 54 ms a frame; with the reader and writer threads a frame took
    157-217 ms end to end, without them 241-261 ms (3 runs each). At the
    demo's 128 x 256, decoding is 0.3 ms a frame - under 1 % of the time -
    and the threads change nothing that the noise does not swamp (60-83
    against 59-75 ms a frame); they cost only the memory of the queued
    frames. The queue is bounded (``maxsize`` frames) so a
    fast decoder never runs far ahead of a slow network.

    Args:
        capture (cv2.VideoCapture): An opened capture; released at the end.
        maxsize (int): Frames decoded ahead at most.
        threaded (bool): False decodes in the caller's thread (for
            comparisons).
    """

    _END = object()

    def __init__(self,
                 capture: cv2.VideoCapture,
                 maxsize: int = 8,
                 threaded: bool = True):
        self.capture = capture
        self.threaded = threaded
        self._queue: 'queue.Queue' = queue.Queue(maxsize=maxsize)
        self._stop = threading.Event()
        self._error: Optional[BaseException] = None
        self._thread = None
        if threaded:
            self._thread = threading.Thread(
                target=self._run, name='FrameReader', daemon=True)
            self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                ok, frame = self.capture.read()
                if not ok:
                    break
                if not self._put(frame):
                    return
        except BaseException as e:  # handed to the consumer
            self._error = e
        finally:
            self._put(self._END)

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            if not self.threaded:
                while True:
                    ok, frame = self.capture.read()
                    if not ok:
                        return
                    yield frame
            while True:
                item = self._queue.get()
                if item is self._END:
                    if self._error is not None:
                        raise self._error
                    return
                yield item
        finally:
            self.close()

    def close(self) -> None:
        """Stop the reader thread (if any) and release the capture."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.capture.release()

    def __enter__(self) -> 'FrameReader':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_video_writer(path: str, fps: float,
                      size: Tuple[int, int]) -> cv2.VideoWriter:
    """An MPEG-4 (``mp4v``) ``cv2.VideoWriter`` at ``fps`` for frames of
    ``size`` = (width, height).

    Raises:
        OSError: OpenCV cannot open the file for writing.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             size)
    if not writer.isOpened():
        raise OSError(f'cannot write video {path} (OpenCV VideoWriter, mp4v)')
    return writer


class FrameWriter:
    """Encode frames into a ``cv2.VideoWriter`` in a background thread fed
    through a bounded queue (the counterpart of :class:`FrameReader`:
    OpenCV's encoder releases the GIL too, and at 1080p mp4v encoding costs
    about half as much as running the demo model, see ``FrameReader``).

    Args:
        writer (cv2.VideoWriter): An opened writer; released by
            :meth:`close`.
        maxsize (int): Frames waiting to be encoded at most (``write``
            blocks beyond that).
        threaded (bool): False encodes in the caller's thread.
    """

    _END = object()

    def __init__(self,
                 writer: cv2.VideoWriter,
                 maxsize: int = 8,
                 threaded: bool = True):
        self.writer = writer
        self._queue: 'queue.Queue' = queue.Queue(maxsize=maxsize)
        self._error: Optional[BaseException] = None
        self._thread = None
        if threaded:
            self._thread = threading.Thread(
                target=self._run, name='FrameWriter', daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is self._END:
                return
            if self._error is None:
                try:
                    self.writer.write(frame)
                except BaseException as e:  # raised by write()/close()
                    self._error = e

    def write(self, frame: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self.writer.write(frame)
        else:
            self._queue.put(frame)

    def close(self) -> None:
        """Encode what is queued, stop the thread, release the writer."""
        if self._thread is not None:
            self._queue.put(self._END)
            self._thread.join()
            self._thread = None
        self.writer.release()
        if self._error is not None:
            raise self._error

    def __enter__(self) -> 'FrameWriter':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
