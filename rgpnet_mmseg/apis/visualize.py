# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Pictures of segmentation results: colour maps, overlays, label PNGs and
the input | ground truth | prediction figure of the README.

Images are OpenCV's BGR ``uint8``; label maps ``H x W`` class ids;
palettes lists of ``(R, G, B)`` as mmseg's ``dataset_meta['palette']``.
"""
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

Palette = Sequence[Sequence[int]]
FONT = cv2.FONT_HERSHEY_SIMPLEX


def make_palette(num_classes: int,
                 palette: Optional[Palette] = None) -> np.ndarray:
    """A ``(num_classes, 3)`` ``uint8`` RGB palette: ``palette`` where it has
    an entry, a fixed pseudo-random colour (seed 42) beyond it."""
    known = np.asarray(palette if palette is not None else [],
                       dtype=np.uint8).reshape(-1, 3)
    colors = np.random.RandomState(42).randint(
        0, 256, size=(max(num_classes, len(known)), 3)).astype(np.uint8)
    colors[:len(known)] = known
    return colors[:num_classes]


def colorize(labels: np.ndarray, palette: Palette) -> np.ndarray:
    """The ``H x W x 3`` BGR colour map of ``labels``; ids without a colour
    (e.g. the ignore index 255) are black."""
    labels = np.asarray(labels)
    table = np.concatenate([
        np.asarray(palette, np.uint8).reshape(-1, 3)[:, ::-1],
        np.zeros((1, 3), np.uint8)
    ])
    valid = (labels >= 0) & (labels < len(table) - 1)
    return table[np.where(valid, labels, len(table) - 1)]


def overlay(image: np.ndarray, labels: np.ndarray, palette: Palette,
            opacity: float = 0.5) -> np.ndarray:
    """Blend the colour map of ``labels`` over the BGR ``image`` of the same
    size; ``opacity`` is the colours' weight, as mmseg's
    ``SegLocalVisualizer(alpha=...)`` (0: the image, 1: the colours).
    Pixels whose id has no colour keep the image."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f'opacity must be in [0, 1], got {opacity}')
    if image.shape[:2] != labels.shape[:2]:
        raise ValueError(f'image {image.shape[:2]} and labels '
                         f'{labels.shape[:2]} differ in size')
    blended = cv2.addWeighted(image, 1.0 - opacity,
                              colorize(labels, palette), opacity, 0.0)
    invalid = (labels < 0) | (labels >= len(palette))
    blended[invalid] = image[invalid]
    return blended


def put_text(image: np.ndarray, text: str, origin: Tuple[int, int] = (4, 4),
             scale: float = 0.45) -> np.ndarray:
    """Write white ``text`` on a black box into ``image`` (in place), its
    top-left corner at ``origin``; returns ``image``."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x, y = origin
    cv2.rectangle(image, (x, y), (x + w + 4, y + h + base + 4), (0, 0, 0), -1)
    cv2.putText(image, text, (x + 2, y + h + 2), FONT, scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return image


def save_labels(path: str, labels: np.ndarray) -> None:
    """Write a label map as a single-channel PNG of class ids (``uint8``,
    ``uint16`` beyond 255), as mmseg's inferencer does."""
    labels = np.asarray(labels)
    dtype = np.uint16 if labels.size and labels.max() > 255 else np.uint8
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, labels.astype(dtype)):
        raise OSError(f'cannot write {path}')


def legend(class_names: Sequence[str], palette: Palette,
           ids: Sequence[int], width: int) -> np.ndarray:
    """A white strip ``width`` pixels wide with a colour swatch and the name
    of each class in ``ids``, wrapped over as many lines as needed."""
    lines, x = [[]], 4
    for i in ids:
        name = class_names[i] if i < len(class_names) else str(i)
        w = 12 + 4 + cv2.getTextSize(name, FONT, 0.4, 1)[0][0] + 12
        if x + w > width and lines[-1]:
            lines.append([])
            x = 4
        lines[-1].append((i, name, x))
        x += w
    strip = np.full((20 * len(lines) + 4, width, 3), 255, np.uint8)
    for row, line in enumerate(lines):
        y = 4 + row * 20
        for i, name, x in line:
            color = tuple(int(c) for c in palette[i][::-1])
            cv2.rectangle(strip, (x, y), (x + 12, y + 12), color, -1)
            cv2.rectangle(strip, (x, y), (x + 12, y + 12), (80, 80, 80), 1)
            cv2.putText(strip, name, (x + 16, y + 11), FONT, 0.4, (0, 0, 0),
                        1, cv2.LINE_AA)
    return strip


def comparison_figure(
        rows: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]],
        palette: Palette, class_names: Optional[Sequence[str]] = None,
        captions: Optional[Sequence[str]] = None,
        titles: Sequence[str] = ('input', 'ground truth', 'prediction'),
        gap: int = 4) -> np.ndarray:
    """The paper's fig. 6 layout: a row per ``(image, gt_labels,
    pred_labels)`` (BGR image, label maps of its size, ground truth 255
    black) side by side, ``titles`` on top, ``captions`` written into the
    predictions, ``gap`` white pixels between panels and, with
    ``class_names``, a legend of the classes that occur at the bottom."""
    if not rows:
        raise ValueError('comparison_figure needs at least one row')
    w = max(r[0].shape[1] for r in rows)
    h = max(r[0].shape[0] for r in rows)
    width = 3 * w + 4 * gap
    header = np.full((24, width, 3), 255, np.uint8)
    for c, title in enumerate(titles):
        tw = cv2.getTextSize(title, FONT, 0.55, 1)[0][0]
        cv2.putText(header, title, (gap + c * (w + gap) + (w - tw) // 2, 17),
                    FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    parts, present = [header], set()
    for r, (image, gt, pred) in enumerate(rows):
        line = np.full((h + gap, width, 3), 255, np.uint8)
        panels = [image, colorize(gt, palette), colorize(pred, palette)]
        if captions is not None and captions[r]:
            put_text(panels[2], captions[r])
        for c, panel in enumerate(panels):
            x = gap + c * (w + gap)
            line[:panel.shape[0], x:x + panel.shape[1]] = panel
        parts.append(line)
        present.update(int(i) for i in np.unique(np.concatenate(
            [gt.ravel(), pred.ravel()])) if 0 <= i < len(palette))
    if class_names is not None and present:
        parts.append(legend(class_names, palette, sorted(present), width))
    return np.concatenate(parts, axis=0)
