# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Colour maps, overlays, label PNGs and the input | ground truth |
prediction figure. Images are BGR ``uint8``, label maps ``H x W`` class ids,
palettes ``(R, G, B)`` lists as mmseg's ``dataset_meta['palette']``."""
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

Palette = Sequence[Sequence[int]]
FONT = cv2.FONT_HERSHEY_SIMPLEX
GAP = 4  # white pixels between the panels of comparison_figure


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
    table = np.vstack([np.asarray(palette, np.uint8).reshape(-1, 3)[:, ::-1],
                       np.zeros(3, np.uint8)])  # the last row: black
    labels, black = np.asarray(labels), len(table) - 1
    return table[np.where((labels >= 0) & (labels < black), labels, black)]


def overlay(image: np.ndarray, labels: np.ndarray, palette: Palette,
            opacity: float = 0.5) -> np.ndarray:
    """Blend the colour map of ``labels`` over the same-size BGR ``image``
    with the colours' weight ``opacity`` (mmseg's ``alpha``); ids without a
    colour keep the image."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f'opacity must be in [0, 1], got {opacity}')
    if image.shape[:2] != labels.shape[:2]:
        raise ValueError(f'image {image.shape[:2]} and labels '
                         f'{labels.shape[:2]} differ in size')
    valid = (labels >= 0) & (labels < len(palette))
    return np.where(valid[..., None], cv2.addWeighted(
        image, 1.0 - opacity, colorize(labels, palette), opacity, 0.0), image)


def put_text(image: np.ndarray, text: str) -> np.ndarray:
    """Write white ``text`` on a black box into the top-left corner of
    ``image`` (in place); returns ``image``."""
    (w, h), base = cv2.getTextSize(text, FONT, 0.45, 1)
    cv2.rectangle(image, (4, 4), (w + 8, h + base + 8), (0, 0, 0), -1)
    cv2.putText(image, text, (6, h + 6), FONT, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
    return image


def save_image(path: str, image: np.ndarray, *params: int) -> None:
    """``cv2.imwrite`` (with ``params``) into a dir it makes; OSError if it
    cannot write."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, image, list(params)):
        raise OSError(f'cannot write {path}')


def save_labels(path: str, labels: np.ndarray) -> None:
    """Write a label map as a single-channel PNG of class ids (``uint8``,
    ``uint16`` beyond 255), as mmseg's inferencer does."""
    labels = np.asarray(labels)
    dtype = np.uint16 if labels.size and labels.max() > 255 else np.uint8
    save_image(path, labels.astype(dtype))


def legend(class_names: Sequence[str], palette: Palette,
           ids: Sequence[int], width: int) -> np.ndarray:
    """A white strip ``width`` pixels wide with a colour swatch and the name
    of each class in ``ids``, wrapped over as many lines as needed."""
    items, x, y = [], 4, 4
    for i in ids:
        name = class_names[i] if i < len(class_names) else str(i)
        w = 28 + cv2.getTextSize(name, FONT, 0.4, 1)[0][0]
        if x + w > width and x > 4:  # a new line
            x, y = 4, y + 20
        items.append((i, name, x, y))
        x += w
    strip = np.full((y + 20, width, 3), 255, np.uint8)
    for i, name, x, y in items:
        color = tuple(int(c) for c in palette[i][::-1])
        cv2.rectangle(strip, (x, y), (x + 12, y + 12), color, -1)
        cv2.rectangle(strip, (x, y), (x + 12, y + 12), (80, 80, 80), 1)
        cv2.putText(strip, name, (x + 16, y + 11), FONT, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return strip


def comparison_figure(
        rows: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]],
        palette: Palette, class_names: Optional[Sequence[str]] = None,
        captions: Optional[Sequence[str]] = None) -> np.ndarray:
    """The paper's fig. 6 layout: a row per ``(image, gt_labels,
    pred_labels)`` under the titles input, ground truth, prediction,
    ``captions`` written into the predictions and, with ``class_names``, a
    legend of the classes that occur."""
    if not rows:
        raise ValueError('comparison_figure needs at least one row')
    h, w = (max(r[0].shape[i] for r in rows) for i in (0, 1))
    width = 3 * w + 4 * GAP
    header = np.full((24, width, 3), 255, np.uint8)
    for x, title in zip(range(GAP, width, w + GAP),
                        ('input', 'ground truth', 'prediction')):
        tw = cv2.getTextSize(title, FONT, 0.55, 1)[0][0]
        cv2.putText(header, title, (x + (w - tw) // 2, 17), FONT, 0.55,
                    (0, 0, 0), 1, cv2.LINE_AA)
    parts, present = [header], set()
    for r, (image, gt, pred) in enumerate(rows):
        line = np.full((h + GAP, width, 3), 255, np.uint8)
        panels = [image, colorize(gt, palette), colorize(pred, palette)]
        if captions is not None and captions[r]:
            put_text(panels[2], captions[r])
        for x, panel in zip(range(GAP, width, w + GAP), panels):
            line[:panel.shape[0], x:x + panel.shape[1]] = panel
        parts.append(line)
        present.update(int(i) for i in np.unique(np.concatenate(
            [gt.ravel(), pred.ravel()])) if 0 <= i < len(palette))
    if class_names is not None and present:
        parts.append(legend(class_names, palette, sorted(present), width))
    return np.concatenate(parts, axis=0)
