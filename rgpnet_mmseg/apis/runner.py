# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""What ``tools/infer.py`` does, as a library; output as mmseg's
``MMSegInferencer``: ``OUT/vis/<name>.png`` overlays (videos:
``OUT/vis/<stem>.mp4``), with ``save_labels`` ``OUT/pred/<name>.png``
(videos: ``OUT/pred/<stem>/000000.png``...); ``<name>``: the path relative
to the input folder, or the file name."""
import os
import os.path as osp
import sys
import time
from typing import List, Optional, Tuple

import cv2
import numpy as np

from .inference import InputShapeError, Segmenter
from .media import (VIDEO_EXTENSIONS, MediaReadError, VideoWriter,
                    list_images, open_video, read_frames, read_image)
from .visualize import overlay, put_text, save_image, save_labels


class InferenceRunner:
    """Runs a segmenter over images, folders and videos, writes the results
    and counts ``images``, ``frames``, ``failed`` (path, message),
    ``seconds`` (wall) and ``model_seconds`` (in the segmenter).

    Args: ``segmenter``, ``out_dir``, ``opacity`` (of the colours),
    ``save_labels`` (label PNGs too), ``show_fps`` (written into each
    overlay), ``progress`` (mmengine's bar), ``threaded_video`` (decode and
    encode frames in threads, :func:`~rgpnet_mmseg.apis.media.read_frames`)."""

    def __init__(self, segmenter: Segmenter, out_dir: str,
                 opacity: float = 0.5, save_labels: bool = False,
                 show_fps: bool = False, progress: bool = True,
                 threaded_video: bool = True):
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f'opacity must be in [0, 1], got {opacity}')
        self.segmenter, self.out_dir, self.opacity = (segmenter, out_dir,
                                                      opacity)
        self.save_labels, self.show_fps = save_labels, show_fps
        self.progress, self.threaded_video = progress, threaded_video
        self.images = self.frames = 0
        self.failed: List[Tuple[str, str]] = []
        self.seconds = self.model_seconds = 0.0
        self._fps: Optional[float] = None
        self._bar = None

    def throughput(self) -> str:
        """One line: how many images/frames, in how long, how fast."""
        what = [f'{n} {name}{"s" * (n != 1)}' for n, name in (
            (self.images, 'image'), (self.frames, 'video frame')) if n]
        line = f'Segmented {" and ".join(what) or "nothing"} in ' \
               f'{self.seconds:.2f} s'
        items = self.images + self.frames
        if items and self.seconds > 0 and self.model_seconds > 0:
            line += (f': {items / self.seconds:.2f} per second end to end, '
                     f'{items / self.model_seconds:.2f} per second in the '
                     f'segmenter (preprocessing, network, postprocessing)')
        n = len(self.failed)
        return line + (f'; {n} input{"s" * (n != 1)} failed' if n else '')

    def run(self, inputs: List[str]) -> 'InferenceRunner':
        """Segment each input (an image, a folder of images or a video);
        unreadable ones are named on stderr and skipped."""
        start = time.perf_counter()
        for path in inputs:
            if osp.isdir(path):
                files = [(f, osp.relpath(f, path)) for f in list_images(path)]
                if not files:
                    self._fail(path, f'no images in {path}')
                self.segment_images(files)
            elif path.lower().endswith(VIDEO_EXTENSIONS):
                self.segment_video(path)
            else:
                self.segment_images([(path, osp.basename(path))])
        self.seconds += time.perf_counter() - start
        return self

    def segment(self, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The labels and the overlay of one BGR image."""
        start = time.perf_counter()
        labels = self.segmenter(image)
        took = time.perf_counter() - start
        self.model_seconds += took
        fps = 1.0 / max(took, 1e-9)
        self._fps = fps if self._fps is None else 0.9 * self._fps + 0.1 * fps
        vis = overlay(image, labels, self.segmenter.palette, self.opacity)
        if self.show_fps:
            put_text(vis, f'{self._fps:.1f} FPS ({self.segmenter.backend})')
        return labels, vis

    def segment_images(self, files: List[Tuple[str, str]]) -> None:
        """Segment ``(path, name relative to the output dirs)`` pairs."""
        self._start_bar(len(files) if len(files) > 1 else 0)
        for path, rel in files:
            try:
                labels, vis = self.segment(read_image(path))
            except (MediaReadError, InputShapeError) as e:
                where = '' if isinstance(e, MediaReadError) else f' {path}'
                self._fail(path, f'skipped{where}: {e}')
            else:
                name = osp.splitext(rel)[0] + '.png'
                save_image(osp.join(self.out_dir, 'vis', name), vis)
                if self.save_labels:
                    save_labels(osp.join(self.out_dir, 'pred', name), labels)
                self.images += 1
            if self._bar is not None:
                self._bar.update()
        self._start_bar(0)

    def segment_video(self, path: str) -> None:
        """Segment a video's frames into an overlay video (and label PNGs)."""
        try:
            cap, fps, count, size = open_video(path)
        except MediaReadError as e:
            return self._fail(path, f'skipped: {e}')
        if fps != fps:  # NaN: the container does not say
            print(f'{path}: no frame rate in the file, writing 25 fps',
                  file=sys.stderr)
            fps = 25.0
        stem = osp.splitext(osp.basename(path))[0]
        dst = osp.join(self.out_dir, 'vis', stem + '.mp4')
        writer = VideoWriter(dst, fps, size, self.threaded_video)
        frames, error = 0, None
        self._start_bar(count)
        try:
            for frame in read_frames(cap, self.threaded_video):
                labels, vis = self.segment(frame)
                writer.write(vis if vis.shape[1::-1] == size else
                             cv2.resize(vis, size))  # odd frames: same size
                if self.save_labels:
                    save_labels(osp.join(self.out_dir, 'pred', stem,
                                         f'{frames:06d}.png'), labels)
                frames += 1
                if self._bar is not None:
                    self._bar.update()
        except InputShapeError as e:  # its frames share one size
            error = f'skipped {path}: {e}'
        finally:
            self._start_bar(0)
            writer.close()
        self.frames += frames
        if error or frames == 0:
            os.remove(dst)
            return self._fail(path, error or f'skipped: cannot read video '
                              f'{path}: no frame could be decoded')

    def _start_bar(self, total: int) -> None:
        """End the running progress bar, start one of ``total`` steps."""
        if self._bar is not None:
            print(flush=True)
        from mmengine.utils import ProgressBar
        self._bar = ProgressBar(total, file=sys.stdout) if (
            total and self.progress) else None

    def _fail(self, path: str, message: str) -> None:
        """Name a failed input on stderr (on a fresh line under a bar)."""
        self.failed.append((path, message))
        if self._bar is not None:
            print(flush=True)
        print(message, file=sys.stderr, flush=True)
