# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Segment an image, a folder of images or a video into an output dir:
what ``tools/infer.py`` does, as a library.

Output layout (the names of mmseg's ``MMSegInferencer``)::

    OUT/vis/<name>.png          colour overlay of each image
    OUT/vis/<video stem>.mp4    overlay video (mp4v, the input's frame rate)
    OUT/pred/<name>.png         label PNG of class ids  (save_labels=True)
    OUT/pred/<video stem>/000000.png ...  one per frame (save_labels=True)

``<name>`` is the image's path relative to the input folder (or its file
name), with the ending ``.png``.
"""
import os
import os.path as osp
import sys
import time
from typing import List, Optional, TextIO, Tuple

import cv2
import numpy as np

from .inference import BaseSegmenter
from .media import (FrameReader, FrameWriter, MediaReadError, is_video_file,
                    list_images, open_video, open_video_writer, read_image)
from .visualize import overlay, put_text, save_labels


class InferenceSummary:
    """What a run did: counts, failures and time."""

    def __init__(self):
        self.images = 0
        self.frames = 0
        self.failed: List[Tuple[str, str]] = []  # (path, message)
        self.seconds = 0.0  # wall time, reading and writing included
        self.model_seconds = 0.0  # segmenter calls (pre/post-processing in)
        self.outputs: List[str] = []

    @property
    def items(self) -> int:
        return self.images + self.frames

    def throughput(self) -> str:
        """One line: how many images/frames, in how long, how fast."""
        what = []
        if self.images:
            what.append(f'{self.images} image{"s" * (self.images != 1)}')
        if self.frames:
            what.append(f'{self.frames} video frame'
                        f'{"s" * (self.frames != 1)}')
        line = f'Segmented {" and ".join(what) or "nothing"} in ' \
               f'{self.seconds:.2f} s'
        if self.items and self.seconds > 0:
            line += f': {self.items / self.seconds:.2f} per second end to end'
            if self.model_seconds > 0:
                line += (f', {self.items / self.model_seconds:.2f} per second '
                         f'in the segmenter (preprocessing, network, '
                         f'postprocessing)')
        if self.failed:
            line += f'; {len(self.failed)} input' \
                    f'{"s" * (len(self.failed) != 1)} failed'
        return line


class _Progress:
    """mmengine's ProgressBar (tqdm is not one of our dependencies), or
    nothing; messages printed while it runs start on a fresh line."""

    def __init__(self, total: int, enabled: bool, stream: TextIO):
        self.bar = None
        if enabled:
            from mmengine.utils import ProgressBar
            self.bar = ProgressBar(total, file=stream)
        self.stream = stream

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def message(self, text: str, err: TextIO) -> None:
        if self.bar is not None:
            self.stream.write('\n')
            self.stream.flush()
        err.write(text + '\n')
        err.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.stream.write('\n')
            self.stream.flush()
            self.bar = None


class MediaSegmenter:
    """Runs a segmenter over images, folders and videos and writes the
    results (see the module's doc for the layout).

    Args:
        segmenter (BaseSegmenter): Any backend.
        out_dir (str): Where to write.
        opacity (float): Weight of the colours in the overlays.
        save_labels (bool): Also write label PNGs (class ids).
        show_fps (bool): Write the segmenter's frames per second (a running
            average of the last frames) into each overlay.
        progress (bool): Progress bars over folders and videos.
        threaded_video (bool): Decode and encode video frames in a reader
            and a writer thread, overlapping them with inference (see
            :class:`~rgpnet_mmseg.apis.media.FrameReader`).
        stream, err: Where progress and errors go (default: sys.stdout and
            sys.stderr at the time of the call).
    """

    def __init__(self,
                 segmenter: BaseSegmenter,
                 out_dir: str,
                 opacity: float = 0.5,
                 save_labels: bool = False,
                 show_fps: bool = False,
                 progress: bool = True,
                 threaded_video: bool = True,
                 stream: Optional[TextIO] = None,
                 err: Optional[TextIO] = None):
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f'opacity must be in [0, 1], got {opacity}')
        self.segmenter = segmenter
        self.out_dir = out_dir
        self.opacity = opacity
        self.save_labels = save_labels
        self.show_fps = show_fps
        self.progress = progress
        self.threaded_video = threaded_video
        self.stream = stream if stream is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.summary = InferenceSummary()
        self._fps: Optional[float] = None

    # -- one frame ---------------------------------------------------------
    def _segment(self, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        start = time.perf_counter()
        labels = self.segmenter(image)
        took = time.perf_counter() - start
        self.summary.model_seconds += took
        fps = 1.0 / max(took, 1e-9)
        self._fps = fps if self._fps is None else 0.9 * self._fps + 0.1 * fps
        vis = overlay(image, labels, self.segmenter.palette, self.opacity)
        if self.show_fps:
            put_text(vis, f'{self._fps:.1f} FPS ({self.segmenter.backend})')
        return labels, vis

    # -- inputs ------------------------------------------------------------
    def run(self, inputs: List[str]) -> InferenceSummary:
        """Segment each input (an image, a folder of images or a video);
        an input or an image in a folder that cannot be read is reported
        on ``err`` by name and skipped, the rest goes on."""
        start = time.perf_counter()
        for path in inputs:
            if osp.isdir(path):
                self.folder(path)
            elif is_video_file(path):
                self.video(path)
            else:
                self.images([(path, osp.basename(path))], progress=False)
        self.summary.seconds += time.perf_counter() - start
        return self.summary

    def folder(self, folder: str) -> None:
        files = list_images(folder)
        if not files:
            self._fail(folder, f'no images in {folder}', None)
            return
        self.images([(f, osp.relpath(f, folder)) for f in files],
                    progress=self.progress and len(files) > 1)

    def images(self, files: List[Tuple[str, str]], progress: bool) -> None:
        bar = _Progress(len(files), progress, self.stream)
        try:
            for path, rel in files:
                try:
                    image = read_image(path)
                except MediaReadError as e:
                    self._fail(path, f'skipped: {e}', bar)
                    bar.update()
                    continue
                labels, vis = self._segment(image)
                name = osp.splitext(rel)[0] + '.png'
                self._write_image(osp.join(self.out_dir, 'vis', name), vis)
                if self.save_labels:
                    save_labels(osp.join(self.out_dir, 'pred', name), labels)
                self.summary.images += 1
                bar.update()
        finally:
            bar.close()

    def video(self, path: str) -> None:
        try:
            cap, fps, count, size = open_video(path)
        except MediaReadError as e:
            self._fail(path, f'skipped: {e}', None)
            return
        if fps != fps:  # NaN: the container does not say
            self.err.write(f'{path}: no frame rate in the file, writing '
                           f'25 fps\n')
            fps = 25.0
        stem = osp.splitext(osp.basename(path))[0]
        dst = osp.join(self.out_dir, 'vis', stem + '.mp4')
        writer = FrameWriter(
            open_video_writer(dst, fps, size), threaded=self.threaded_video)
        bar = _Progress(count, self.progress, self.stream)
        frames = 0
        try:
            with FrameReader(cap, threaded=self.threaded_video) as reader:
                for frame in reader:
                    labels, vis = self._segment(frame)
                    if vis.shape[1::-1] != size:  # odd frames: keep size
                        vis = cv2.resize(vis, size)
                    writer.write(vis)
                    if self.save_labels:
                        save_labels(
                            osp.join(self.out_dir, 'pred', stem,
                                     f'{frames:06d}.png'), labels)
                    frames += 1
                    self.summary.frames += 1
                    bar.update()
        finally:
            bar.close()
            writer.close()
        if frames == 0:
            os.remove(dst)
            self._fail(path, f'skipped: cannot read video {path}: no frame '
                       f'could be decoded', None)
            return
        self.summary.outputs.append(dst)

    # -- helpers -----------------------------------------------------------
    def _write_image(self, path: str, image: np.ndarray) -> None:
        os.makedirs(osp.dirname(path), exist_ok=True)
        if not cv2.imwrite(path, image):
            raise OSError(f'cannot write {path}')
        self.summary.outputs.append(path)

    def _fail(self, path: str, message: str,
              bar: Optional[_Progress]) -> None:
        self.summary.failed.append((path, message))
        if bar is not None:
            bar.message(message, self.err)
        else:
            self.err.write(message + '\n')
            self.err.flush()
