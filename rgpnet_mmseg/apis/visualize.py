# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Pictures of segmentation results: colour maps, overlays, label PNGs and
the input | ground truth | prediction figure of the README.

Everything here works on OpenCV's BGR ``uint8`` images and on label maps
(``H x W`` integer arrays of class ids); palettes are lists of ``(R, G, B)``
as in mmseg's ``dataset_meta['palette']``.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

Palette = Sequence[Sequence[int]]

#: The colour of ignored pixels (label 255 in the ground truth).
IGNORE_COLOR = (0, 0, 0)


def make_palette(num_classes: int,
                 palette: Optional[Palette] = None) -> np.ndarray:
    """A ``(num_classes, 3)`` RGB palette.

    Uses ``palette`` where it has an entry and a fixed pseudo-random colour
    (seed 42, the same for every call) for the classes beyond it.

    Args:
        num_classes (int): Number of classes to colour.
        palette (sequence of (R, G, B), optional): Known colours.

    Returns:
        np.ndarray: ``uint8`` array of shape ``(num_classes, 3)``, RGB.
    """
    known = np.asarray(palette if palette is not None else [],
                       dtype=np.uint8).reshape(-1, 3)
    if len(known) >= num_classes:
        return known[:num_classes].copy()
    rng = np.random.RandomState(42)
    extra = rng.randint(0, 256, size=(num_classes, 3)).astype(np.uint8)
    extra[:len(known)] = known
    return extra


def colorize(labels: np.ndarray,
             palette: Palette,
             ignore_color: Tuple[int, int, int] = IGNORE_COLOR) -> np.ndarray:
    """Paint a label map with a palette.

    Args:
        labels (np.ndarray): ``H x W`` class ids.
        palette (sequence of (R, G, B)): Colour of each class.
        ignore_color (tuple): RGB colour of ids outside the palette (e.g. the
            ignore index 255).

    Returns:
        np.ndarray: ``H x W x 3`` BGR ``uint8`` image.
    """
    labels = np.asarray(labels)
    colors = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)[:, ::-1]
    if labels.size and 0 <= labels.min() and labels.max() <= 255:
        # the fast path: a 256-entry table per channel (cv2.LUT)
        table = np.empty((256, 1, 3), np.uint8)
        table[:, 0] = np.asarray(ignore_color, np.uint8)[::-1]
        n = min(len(colors), 256)
        table[:n, 0] = colors[:n]
        lab8 = labels.astype(np.uint8)
        return cv2.LUT(cv2.merge([lab8, lab8, lab8]), table)
    out = np.empty(labels.shape + (3, ), np.uint8)
    out[...] = np.asarray(ignore_color, np.uint8)[::-1]
    valid = (labels >= 0) & (labels < len(colors))
    out[valid] = colors[labels[valid]]
    return out


def overlay(image: np.ndarray,
            labels: np.ndarray,
            palette: Palette,
            opacity: float = 0.5) -> np.ndarray:
    """Blend the colour map of ``labels`` over ``image``.

    ``opacity`` is the weight of the colours, as in mmseg's
    ``SegLocalVisualizer(alpha=...)``: 0 shows the image, 1 the colour map.
    Pixels whose id has no colour (e.g. 255) keep the image.

    Args:
        image (np.ndarray): ``H x W x 3`` BGR ``uint8`` image.
        labels (np.ndarray): ``H x W`` class ids, same size as ``image``.
        palette (sequence of (R, G, B)): Colour of each class.
        opacity (float): Weight of the colour map, in [0, 1].

    Returns:
        np.ndarray: ``H x W x 3`` BGR ``uint8`` image.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f'opacity must be in [0, 1], got {opacity}')
    if image.shape[:2] != labels.shape[:2]:
        raise ValueError(f'image {image.shape[:2]} and labels '
                         f'{labels.shape[:2]} differ in size')
    color = colorize(labels, palette)
    blended = cv2.addWeighted(image, 1.0 - opacity, color, opacity, 0.0)
    if labels.size and (labels.min() < 0 or labels.max() >= len(palette)):
        invalid = (labels < 0) | (labels >= len(palette))
        blended[invalid] = image[invalid]
    return blended


def put_text(image: np.ndarray,
             text: str,
             origin: Tuple[int, int] = (4, 4),
             scale: float = 0.45,
             color: Tuple[int, int, int] = (255, 255, 255),
             background: Optional[Tuple[int, int, int]] = (0, 0, 0)
             ) -> np.ndarray:
    """Write ``text`` in place, its top-left corner at ``origin``, on a
    filled box so it reads on any background. Returns ``image``."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (w, h), base = cv2.getTextSize(text, font, scale, 1)
    x, y = origin
    if background is not None:
        cv2.rectangle(image, (x, y), (x + w + 4, y + h + base + 4),
                      background, -1)
    cv2.putText(image, text, (x + 2, y + h + 2), font, scale, color, 1,
                cv2.LINE_AA)
    return image


def save_labels(path: str, labels: np.ndarray) -> None:
    """Write a label map as a single-channel PNG of class ids (``uint8``,
    or ``uint16`` when an id exceeds 255), as mmseg's inferencer and
    ``tools/test.py --out`` do."""
    labels = np.asarray(labels)
    dtype = np.uint8 if labels.size == 0 or labels.max() <= 255 \
        else np.uint16
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, labels.astype(dtype)):
        raise OSError(f'cannot write {path}')


def legend(class_names: Sequence[str],
           palette: Palette,
           ids: Sequence[int],
           width: int,
           swatch: int = 12,
           scale: float = 0.4) -> np.ndarray:
    """A strip of ``width`` pixels with a colour swatch and the name of each
    class in ``ids``, wrapped over as many lines as needed (BGR)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    items = []
    for i in ids:
        name = class_names[i] if i < len(class_names) else str(i)
        (tw, th), _ = cv2.getTextSize(name, font, scale, 1)
        items.append((i, name, swatch + 4 + tw + 12))
    line_h = max(swatch, 12) + 8
    lines: List[list] = [[]]
    x = 4
    for item in items:
        if x + item[2] > width and lines[-1]:
            lines.append([])
            x = 4
        lines[-1].append(item)
        x += item[2]
    strip = np.full((line_h * len(lines) + 4, width, 3), 255, np.uint8)
    for row, line in enumerate(lines):
        x, y = 4, 4 + row * line_h
        for i, name, w in line:
            r, g, b = (int(c) for c in palette[i])
            cv2.rectangle(strip, (x, y), (x + swatch, y + swatch), (b, g, r),
                          -1)
            cv2.rectangle(strip, (x, y), (x + swatch, y + swatch),
                          (80, 80, 80), 1)
            cv2.putText(strip, name, (x + swatch + 4, y + swatch - 1), font,
                        scale, (0, 0, 0), 1, cv2.LINE_AA)
            x += w
    return strip


def comparison_figure(rows: Sequence[Tuple[np.ndarray, np.ndarray,
                                           np.ndarray]],
                      palette: Palette,
                      class_names: Optional[Sequence[str]] = None,
                      titles: Sequence[str] = ('input', 'ground truth',
                                               'prediction'),
                      captions: Optional[Sequence[str]] = None,
                      gap: int = 4) -> np.ndarray:
    """The paper's fig. 6 layout: one row per image with the input, the
    ground truth and the prediction side by side, column titles on top and
    a legend of the classes that occur at the bottom.

    Args:
        rows (sequence): ``(image, gt_labels, pred_labels)`` per row; BGR
            image, ``H x W`` label maps of the image's size (ground truth
            pixels outside the palette, e.g. 255, are painted black).
        palette (sequence of (R, G, B)): Colour of each class.
        class_names (sequence of str, optional): For the legend; no legend
            without it.
        titles (sequence of str): Column titles.
        captions (sequence of str, optional): Text written into the
            prediction of each row (e.g. its pixel accuracy).
        gap (int): White pixels between the panels.

    Returns:
        np.ndarray: The figure, BGR ``uint8``.
    """
    if not rows:
        raise ValueError('comparison_figure needs at least one row')
    w = max(r[0].shape[1] for r in rows)
    h = max(r[0].shape[0] for r in rows)
    ncols = 3
    width = ncols * w + (ncols + 1) * gap
    header = np.full((24, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for c, title in enumerate(titles[:ncols]):
        (tw, th), _ = cv2.getTextSize(title, font, 0.55, 1)
        x = gap + c * (w + gap) + (w - tw) // 2
        cv2.putText(header, title, (x, 17), font, 0.55, (0, 0, 0), 1,
                    cv2.LINE_AA)
    parts = [header]
    present = set()
    for r, (image, gt, pred) in enumerate(rows):
        line = np.full((h + gap, width, 3), 255, np.uint8)
        panels = [image, colorize(gt, palette), colorize(pred, palette)]
        if captions is not None and captions[r]:
            panels[2] = put_text(panels[2].copy(), captions[r])
        for c, panel in enumerate(panels):
            ph, pw = panel.shape[:2]
            x = gap + c * (w + gap)
            line[:ph, x:x + pw] = panel
        parts.append(line)
        for labels in (gt, pred):
            ids = np.unique(labels)
            present.update(int(i) for i in ids if 0 <= i < len(palette))
    if class_names is not None and present:
        parts.append(legend(class_names, palette, sorted(present), width))
    return np.concatenate(parts, axis=0)
