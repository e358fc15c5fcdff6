# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Deterministic synthetic Cityscapes-format demo data set.

The generator draws simple *street-like* scenes (sky, buildings, road with
sidewalks, poles with traffic signs and lights, vehicles, pedestrians, riders,
...) labelled with the 19 Cityscapes train ids, and writes them in the layout
that :class:`mmseg.datasets.CityscapesDataset` reads::

    {data_root}/leftImg8bit/{split}/{city}/{name}_leftImg8bit.png
    {data_root}/gtFine/{split}/{city}/{name}_gtFine_labelTrainIds.png

with ``name = f'{city}_{seq:06d}_000019'`` and ``seq`` the sample index.

The module deliberately depends on ``numpy`` and ``cv2`` only (no torch, mmcv
or mmseg) so that the data set can be created before the OpenMMLab stack is
installed, e.g. by ``tools/make_demo_data.py``.
"""
import json
import os
import os.path as osp
import re
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import cv2
import numpy as np

# Bump whenever the generated files change, so that existing data sets are
# regenerated instead of being reused.
FORMAT_VERSION = 1
MANIFEST_NAME = 'demo_manifest.json'
IMG_SUFFIX = '_leftImg8bit.png'
SEG_MAP_SUFFIX = '_gtFine_labelTrainIds.png'
SPLITS = ('train', 'val')
FRAME_ID = 19
MIN_SIZE = 32
MAX_SAMPLES = 999999
IGNORE_INDEX = 255
NUM_CLASSES = 19

CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence', 'pole',
           'traffic light', 'traffic sign', 'vegetation', 'terrain', 'sky',
           'person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
           'bicycle')
PALETTE = ((128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156),
           (190, 153, 153), (153, 153, 153), (250, 170, 30), (220, 220, 0),
           (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
           (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100),
           (0, 0, 230), (119, 11, 32))

(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN,
 SKY, PERSON, RIDER, CAR, TRUCK, BUS, TRAIN, MOTORCYCLE,
 BICYCLE) = range(NUM_CLASSES)

# Classes drawn as segments of the background row along the horizon.
_BACKGROUND_CLASSES = (BUILDING, WALL, FENCE, VEGETATION)
# Per-class amplitude of the multiplicative texture added at the end.
_TEXTURE_AMPLITUDE = {
    ROAD: 0.07,
    SIDEWALK: 0.06,
    BUILDING: 0.08,
    WALL: 0.08,
    FENCE: 0.06,
    VEGETATION: 0.3,
    TERRAIN: 0.2,
    SKY: 0.015
}
_DEFAULT_TEXTURE_AMPLITUDE = 0.05
_CITY_PATTERN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9-]*$')
_SPLIT_CODES = {'train': 0, 'val': 1}

Colour = np.ndarray
Box = Tuple[float, float, float, float]


# --------------------------------------------------------------------------
# Drawing primitives
# --------------------------------------------------------------------------
def _as_points(points: Sequence[Sequence[float]]) -> np.ndarray:
    """Round a point list to the int32 ``(N, 1, 2)`` array cv2 expects."""
    pts = np.round(np.asarray(points, dtype=np.float64))
    return pts.astype(np.int32).reshape(-1, 1, 2)


def _jitter(
    rng: np.random.Generator,
    base: Sequence[float],
    std: float = 14.0,
    gain: Tuple[float, float] = (0.85, 1.15)) -> Colour:
    """Jitter an RGB colour with a random gain and per-channel noise.

    Args:
        rng (np.random.Generator): Random generator.
        base (Sequence[float]): Base RGB colour.
        std (float): Std of the additive per-channel noise. Defaults to 14.
        gain (tuple[float, float]): Range of the multiplicative gain.

    Returns:
        np.ndarray: The jittered RGB colour, float64 in [0, 255].
    """
    colour = np.asarray(base, np.float64) * rng.uniform(*gain)
    colour = colour + rng.normal(0.0, std, 3)
    return np.clip(colour, 0.0, 255.0)


def _class_colour(rng: np.random.Generator, cls: int, **kwargs) -> Colour:
    """Jittered Cityscapes palette colour of class ``cls``."""
    return _jitter(rng, PALETTE[cls], **kwargs)


class _Canvas:
    """A label map and a float RGB image that are drawn on together.

    Every primitive takes a class id (``None`` draws on the image only, which
    is used for texture details inside an object) and an RGB colour.

    Args:
        height (int): Image height.
        width (int): Image width.
    """

    def __init__(self, height: int, width: int) -> None:
        self.height = height
        self.width = width
        self.label = np.full((height, width), SKY, dtype=np.uint8)
        self.img = np.zeros((height, width, 3), dtype=np.float32)

    def _apply(self, draw: Callable, cls: Optional[int],
               colour: Sequence[float]) -> None:
        if cls is not None:
            draw(self.label, int(cls))
        draw(self.img, tuple(float(c) for c in colour))

    def poly(self, points, cls: Optional[int], colour) -> None:
        """Fill a polygon given as a list of ``(x, y)`` points."""
        pts = _as_points(points)
        self._apply(lambda t, v: cv2.fillPoly(t, [pts], v, cv2.LINE_8), cls,
                    colour)

    def rect(self, x0: float, y0: float, x1: float, y1: float,
             cls: Optional[int], colour) -> None:
        """Fill the axis-aligned rectangle ``[x0, x1] x [y0, y1]``."""
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], cls, colour)

    def circle(self,
               cx: float,
               cy: float,
               r: float,
               cls: Optional[int],
               colour,
               thickness: int = -1) -> None:
        """Draw a filled (or, with ``thickness > 0``, outlined) circle."""
        centre = (int(round(cx)), int(round(cy)))
        radius = max(0, int(round(r)))
        self._apply(
            lambda t, v: cv2.circle(t, centre, radius, v, thickness, cv2.LINE_8
                                    ), cls, colour)

    def line(self,
             p0: Sequence[float],
             p1: Sequence[float],
             cls: Optional[int],
             colour,
             thickness: int = 1) -> None:
        """Draw a straight line segment."""
        a = tuple(int(round(v)) for v in p0)
        b = tuple(int(round(v)) for v in p1)
        thickness = max(1, int(thickness))
        self._apply(lambda t, v: cv2.line(t, a, b, v, thickness, cv2.LINE_8),
                    cls, colour)

    def ellipse(self, cx: float, cy: float, ax: float, ay: float,
                cls: Optional[int], colour) -> None:
        """Fill an axis-aligned ellipse."""
        centre = (int(round(cx)), int(round(cy)))
        axes = (max(0, int(round(ax))), max(0, int(round(ay))))
        self._apply(
            lambda t, v: cv2.ellipse(t, centre, axes, 0, 0, 360, v, -1, cv2.
                                     LINE_8), cls, colour)

    def shade(self, points, factor: float) -> None:
        """Darken (or brighten) the image inside a polygon (a shadow)."""
        mask = np.zeros((self.height, self.width), np.uint8)
        cv2.fillPoly(mask, [_as_points(points)], 1, cv2.LINE_8)
        self.img[mask > 0] *= np.float32(factor)


# --------------------------------------------------------------------------
# Scene geometry
# --------------------------------------------------------------------------
class _Layout:
    """Random perspective geometry of one street scene.

    The road is a trapezoid from a vanishing point on the horizon to the
    bottom of the image, with a sidewalk on each side and terrain beyond.

    Args:
        rng (np.random.Generator): Random generator.
        height (int): Image height.
        width (int): Image width.
    """

    def __init__(self, rng: np.random.Generator, height: int,
                 width: int) -> None:
        h, w = float(height), float(width)
        self.height, self.width = h, w
        self.horizon = h * rng.uniform(0.34, 0.5)
        self.vx = w * rng.uniform(0.38, 0.62)
        self.road_top = w * rng.uniform(0.01, 0.03)
        centre = w * rng.uniform(0.4, 0.6)
        half = w * rng.uniform(0.28, 0.42)
        self.road_bottom = (centre - half, centre + half)
        self.walk_top = w * rng.uniform(0.01, 0.03)
        self.walk_bottom = (w * rng.uniform(0.12, 0.3),
                            w * rng.uniform(0.12, 0.3))
        self.has_ego = bool(rng.random() < 0.5)
        self.ego_top = h * (1.0 - rng.uniform(0.06, 0.12)) \
            if self.has_ego else h

    def depth(self, y: float) -> float:
        """Perspective scale at image row ``y``: 0 at the horizon, 1 at the
        bottom of the image."""
        t = (y - self.horizon) / (self.height - self.horizon)
        return float(min(max(t, 0.0), 1.0))

    def road_edges(self, y: float) -> Tuple[float, float]:
        """Left and right x of the road at row ``y``."""
        t = self.depth(y)
        left = self.vx - self.road_top
        right = self.vx + self.road_top
        return (left + t * (self.road_bottom[0] - left),
                right + t * (self.road_bottom[1] - right))

    def walk_edges(self, y: float) -> Tuple[float, float]:
        """Outer left and outer right x of the sidewalks at row ``y``."""
        t = self.depth(y)
        left = self.vx - self.road_top - self.walk_top
        right = self.vx + self.road_top + self.walk_top
        bottom_left = self.road_bottom[0] - self.walk_bottom[0]
        bottom_right = self.road_bottom[1] + self.walk_bottom[1]
        return (left + t * (bottom_left - left),
                right + t * (bottom_right - right))

    def ground_row(self, rng: np.random.Generator, lo: float,
                   hi: float) -> float:
        """A random row between the horizon and the ego-vehicle strip."""
        return self.horizon + rng.uniform(lo, hi) * (
            self.ego_top - self.horizon)

    def walk_point(self, rng: np.random.Generator, y: float,
                   side: int) -> float:
        """A random x on the left (``side=0``) or right sidewalk at row y."""
        road_l, road_r = self.road_edges(y)
        walk_l, walk_r = self.walk_edges(y)
        u = rng.uniform(0.15, 0.85)
        return walk_l + u * (road_l - walk_l) if side == 0 else \
            road_r + u * (walk_r - road_r)


# --------------------------------------------------------------------------
# Background: sky, ground and the row of buildings along the horizon
# --------------------------------------------------------------------------
def _draw_sky(cv: _Canvas, rng: np.random.Generator, lay: _Layout) -> None:
    """Fill the image with a sky gradient and a few clouds."""
    top = _jitter(rng, PALETTE[SKY], std=10, gain=(0.7, 0.95))
    bottom = np.clip(top * rng.uniform(1.1, 1.35) + rng.uniform(15, 45), 0,
                     255)
    t = np.linspace(0.0, 1.0, cv.height, dtype=np.float64)[:, None]
    t = np.clip(t * cv.height / max(lay.horizon, 1.0), 0.0, 1.0)
    cv.img[:] = (top * (1 - t) + bottom * t)[:, None, :].astype(np.float32)
    for _ in range(int(rng.integers(0, 4))):
        ax = cv.width * rng.uniform(0.05, 0.15)
        ay = lay.horizon * rng.uniform(0.05, 0.12)
        cx = rng.uniform(0, cv.width)
        cy = rng.uniform(0, max(lay.horizon - 2 * ay, 1.0))
        white = np.full(3, 235.0)
        mix = rng.uniform(0.3, 0.6)
        cv.ellipse(cx, cy, ax, ay, SKY, top * (1 - mix) + white * mix)


def _draw_ground(cv: _Canvas, rng: np.random.Generator, lay: _Layout) -> None:
    """Draw terrain, sidewalks, the road and its markings."""
    h, w, yh = cv.height, cv.width, lay.horizon
    cv.rect(-1, yh, w, h, TERRAIN, _class_colour(rng, TERRAIN, std=16))
    road_l, road_r = lay.road_bottom
    top_l, top_r = lay.road_edges(yh)
    out_l, out_r = lay.walk_edges(yh)
    walk_l = road_l - lay.walk_bottom[0]
    walk_r = road_r + lay.walk_bottom[1]
    walk_colour = _class_colour(rng, SIDEWALK, std=16)
    cv.poly([(out_l, yh), (top_l, yh), (road_l, h), (walk_l, h)], SIDEWALK,
            walk_colour)
    cv.poly([(top_r, yh), (out_r, yh), (walk_r, h), (road_r, h)], SIDEWALK,
            walk_colour * rng.uniform(0.9, 1.1))
    # sidewalk tiles
    tile = walk_colour * rng.uniform(0.7, 0.85)
    for k in range(1, 10):
        y = yh + (h - yh) * (k / 10.0)**1.7
        (rl, rr), (wl, wr) = lay.road_edges(y), lay.walk_edges(y)
        cv.line((wl, y), (rl, y), None, tile)
        cv.line((rr, y), (wr, y), None, tile)
    road_colour = _class_colour(rng, ROAD, std=12)
    cv.poly([(top_l, yh), (top_r, yh), (road_r, h), (road_l, h)], ROAD,
            road_colour)
    # curbs
    curb = np.clip(walk_colour * 0.5 + 110, 0, 255)
    cv.line((top_l, yh), (road_l, h), None, curb)
    cv.line((top_r, yh), (road_r, h), None, curb)
    _draw_road_markings(cv, rng, lay)


def _draw_road_markings(cv: _Canvas, rng: np.random.Generator,
                        lay: _Layout) -> None:
    """Dashed centre line and, sometimes, a zebra crossing (label road)."""
    h, yh = cv.height, lay.horizon
    paint = _jitter(rng, (225, 225, 215), std=8, gain=(0.85, 1.05))
    offset = rng.uniform(0.0, 0.2)
    for k in range(6):
        u0 = offset + k * 0.2
        u1 = u0 + 0.1
        if u0 >= 1.0:
            break
        y0 = yh + (h - yh) * u0**1.5
        y1 = yh + (h - yh) * min(u1, 1.0)**1.5
        x0, x1 = (sum(lay.road_edges(y0)) / 2, sum(lay.road_edges(y1)) / 2)
        thick = max(1, int(round(lay.depth(y1) * cv.width * 0.012)))
        cv.line((x0, y0), (x1, y1), ROAD, paint, thick)
    if rng.random() < 0.25:
        y1 = lay.ground_row(rng, 0.55, 0.85)
        y0 = y1 - max(1.0, (y1 - yh) * 0.12)
        rl0, rr0 = lay.road_edges(y0)
        rl1, rr1 = lay.road_edges(y1)
        stripes = 9
        for k in range(0, stripes, 2):
            a, b = k / stripes, (k + 1) / stripes
            cv.poly([(rl0 + a * (rr0 - rl0), y0), (rl0 + b * (rr0 - rl0), y0),
                     (rl1 + b * (rr1 - rl1), y1), (rl1 + a * (rr1 - rl1), y1)],
                    ROAD, paint)


def _draw_building(cv: _Canvas, rng: np.random.Generator, x0: float, x1: float,
                   base: float, lay: _Layout) -> None:
    """A facade with a grid of windows and an optional gable roof."""
    top = lay.horizon - cv.height * rng.uniform(0.1, 0.5)
    colour = _class_colour(rng, BUILDING, std=22, gain=(0.7, 1.35))
    cv.rect(x0, top, x1, base, BUILDING, colour)
    if rng.random() < 0.3:
        peak = top - (x1 - x0) * rng.uniform(0.15, 0.35)
        cv.poly([(x0, top), ((x0 + x1) / 2, peak), (x1, top)], BUILDING,
                colour * rng.uniform(0.6, 0.9))
    cell = max(3.0, (x1 - x0) / rng.integers(3, 7))
    cell_h = cell * rng.uniform(0.8, 1.4)
    if x1 - x0 < 2 * cell or base - top < 2 * cell_h:
        return
    window = _jitter(rng, (60, 75, 95), std=12) if rng.random() < 0.5 else \
        colour * rng.uniform(0.35, 0.6)
    y = top + cell_h * 0.4
    while y + cell_h * 0.5 < base - cell_h * 0.3:
        x = x0 + cell * 0.3
        while x + cell * 0.5 < x1:
            cv.rect(x, y, x + cell * 0.5, y + cell_h * 0.5, None, window)
            x += cell
        y += cell_h


def _draw_tree(cv: _Canvas, rng: np.random.Generator, cx: float, base: float,
               crown: float) -> None:
    """A tree: trunk and a crown of overlapping circles (all vegetation)."""
    trunk = _jitter(rng, (95, 75, 55), std=8)
    cy = base - crown * rng.uniform(1.3, 2.2)
    cv.rect(cx - max(0.5, crown * 0.12), cy, cx + max(0.5, crown * 0.12), base,
            VEGETATION, trunk)
    leaves = _class_colour(rng, VEGETATION, std=14)
    for _ in range(int(rng.integers(1, 4))):
        dx, dy = rng.normal(0.0, crown * 0.4, 2)
        cv.circle(cx + dx, cy + dy, crown * rng.uniform(0.6, 1.0), VEGETATION,
                  leaves * rng.uniform(0.85, 1.15))


def _draw_vegetation(cv: _Canvas, rng: np.random.Generator, x0: float,
                     x1: float, base: float, lay: _Layout) -> None:
    """A group of trees behind a low hedge."""
    spacing = cv.width * 0.08
    for _ in range(max(1, int((x1 - x0) / spacing))):
        crown = cv.height * rng.uniform(0.05, 0.12)
        _draw_tree(cv, rng, rng.uniform(x0, x1), base, crown)
    hedge = base - cv.height * rng.uniform(0.02, 0.06)
    cv.rect(x0, hedge, x1, base, VEGETATION,
            _class_colour(rng, VEGETATION, std=14, gain=(0.7, 1.0)))


def _draw_wall(cv: _Canvas, rng: np.random.Generator, x0: float, x1: float,
               base: float, lay: _Layout) -> None:
    """A low wall with horizontal joints."""
    top = base - cv.height * rng.uniform(0.04, 0.12)
    colour = _class_colour(rng, WALL, std=16)
    cv.rect(x0, top, x1, base, WALL, colour)
    joint = colour * rng.uniform(0.7, 0.85)
    step = max(2.0, cv.height * 0.025)
    y = top + step
    while y < base:
        cv.line((x0, y), (x1, y), None, joint)
        y += step


def _draw_fence(cv: _Canvas, rng: np.random.Generator, x0: float, x1: float,
                base: float, lay: _Layout) -> None:
    """A fence with posts and a diagonal lattice."""
    top = base - cv.height * rng.uniform(0.04, 0.12)
    colour = _class_colour(rng, FENCE, std=16)
    cv.rect(x0, top, x1, base, FENCE, colour)
    dark = colour * rng.uniform(0.55, 0.75)
    step = max(3.0, cv.width * 0.02)
    x = x0
    while x < x1:
        cv.line((x, top), (min(x + (base - top), x1), base), None, dark)
        x += step
    cv.line((x0, top), (x1, top), None, dark)


_BACKGROUND_DRAWERS = {
    BUILDING: _draw_building,
    VEGETATION: _draw_vegetation,
    WALL: _draw_wall,
    FENCE: _draw_fence,
}


def _background_segments(rng: np.random.Generator, width: float,
                         forced: Set[int]) -> List[Tuple[float, float, int]]:
    """Split the horizon into segments of building/vegetation/wall/fence.

    Args:
        rng (np.random.Generator): Random generator.
        width (float): Image width.
        forced (set[int]): Background classes that must get a segment.

    Returns:
        list[tuple]: ``(x0, x1, cls)`` segments, ``cls=-1`` for a gap.
    """
    choices = (BUILDING, VEGETATION, WALL, FENCE, -1)
    probs = (0.45, 0.25, 0.1, 0.1, 0.1)
    segments = []
    x = -1.0
    while x < width:
        seg_w = width * rng.uniform(0.07, 0.25)
        segments.append([x, x + seg_w, int(rng.choice(choices, p=probs))])
        x += seg_w
    missing = [
        c for c in _BACKGROUND_CLASSES
        if c in forced and c not in {s[2]
                                     for s in segments}
    ]
    slots = rng.permutation(len(segments))
    for k, cls in enumerate(missing):
        segments[slots[k % len(segments)]][2] = cls
    return [tuple(s) for s in segments]


def _draw_background(cv: _Canvas, rng: np.random.Generator, lay: _Layout,
                     forced: Set[int]) -> None:
    """Draw the row of buildings, walls, fences and trees on the horizon."""
    base = lay.horizon + cv.height * rng.uniform(0.0, 0.03)
    for x0, x1, cls in _background_segments(rng, cv.width, forced):
        if cls >= 0:
            _BACKGROUND_DRAWERS[cls](cv, rng, x0, x1, base, lay)


def _draw_side_barrier(cv: _Canvas, rng: np.random.Generator, lay: _Layout,
                       side: int) -> None:
    """A wall, fence or hedge along the outer edge of a sidewalk."""
    cls = int(rng.choice((WALL, FENCE, VEGETATION)))
    y0 = lay.horizon + 1.0
    y1 = lay.ground_row(rng, 0.3, 0.8)
    height = cv.height * rng.uniform(0.15, 0.35)
    x0, x1 = (lay.walk_edges(y)[side] for y in (y0, y1))
    top0 = y0 - height * max(lay.depth(y0), 0.02)
    top1 = y1 - height * lay.depth(y1)
    colour = _class_colour(rng, cls, std=16)
    cv.poly([(x0, y0), (x1, y1), (x1, top1), (x0, top0)], cls, colour)
    dark = colour * rng.uniform(0.55, 0.8)
    if cls == VEGETATION:
        return
    for k in range(1, 8):  # posts, denser towards the horizon
        u = (k / 8.0)**1.5
        x = x0 + u * (x1 - x0)
        cv.line((x, y0 + u * (y1 - y0)), (x, top0 + u * (top1 - top0)), None,
                dark)


# --------------------------------------------------------------------------
# Foreground objects, each drawn inside a box (x0, y0, x1, y1), y1 = ground
# --------------------------------------------------------------------------
def _draw_wheels(cv: _Canvas, cls: int, centres: Sequence[float], y: float,
                 r: float, rng: np.random.Generator) -> None:
    tyre = _jitter(rng, (25, 25, 28), std=5)
    for cx in centres:
        cv.circle(cx, y, r, cls, tyre)


def _draw_car(cv: _Canvas, rng: np.random.Generator, box: Box,
              side_view: bool) -> None:
    """A car seen from the side or from behind (wheels included)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    colour = _class_colour(rng, CAR, std=22, gain=(0.6, 1.4))
    glass = _jitter(rng, (45, 55, 70), std=10)
    body_top = y0 + 0.45 * h
    if side_view:
        r = 0.2 * h
        cv.rect(x0, body_top, x1, y1 - 0.6 * r, CAR, colour)
        cv.poly([(x0 + 0.18 * w, body_top), (x0 + 0.3 * w, y0),
                 (x1 - 0.3 * w, y0), (x1 - 0.12 * w, body_top)], CAR, colour)
        cv.poly([(x0 + 0.24 * w, body_top - 0.05 * h),
                 (x0 + 0.33 * w, y0 + 0.1 * h), (x1 - 0.33 * w, y0 + 0.1 * h),
                 (x1 - 0.18 * w, body_top - 0.05 * h)], None, glass)
        _draw_wheels(cv, CAR, (x0 + 0.2 * w, x1 - 0.2 * w), y1 - r, r, rng)
    else:
        cv.rect(x0, body_top, x1, y1 - 0.1 * h, CAR, colour)
        cv.poly([(x0 + 0.1 * w, body_top), (x0 + 0.2 * w, y0),
                 (x1 - 0.2 * w, y0), (x1 - 0.1 * w, body_top)], CAR, colour)
        cv.poly([(x0 + 0.17 * w, body_top - 0.05 * h),
                 (x0 + 0.24 * w, y0 + 0.1 * h), (x1 - 0.24 * w, y0 + 0.1 * h),
                 (x1 - 0.17 * w, body_top - 0.05 * h)], None, glass)
        tyre = _jitter(rng, (25, 25, 28), std=5)
        cv.rect(x0 + 0.05 * w, y1 - 0.12 * h, x0 + 0.2 * w, y1, CAR, tyre)
        cv.rect(x1 - 0.2 * w, y1 - 0.12 * h, x1 - 0.05 * w, y1, CAR, tyre)
        lamp = _jitter(rng, (200, 30, 30), std=15)
        cv.rect(x0 + 0.03 * w, body_top + 0.08 * h, x0 + 0.15 * w,
                body_top + 0.18 * h, None, lamp)
        cv.rect(x1 - 0.15 * w, body_top + 0.08 * h, x1 - 0.03 * w,
                body_top + 0.18 * h, None, lamp)
        cv.rect(x0 + 0.4 * w, y1 - 0.3 * h, x1 - 0.4 * w, y1 - 0.2 * h, None,
                (210, 210, 200))


def _draw_truck(cv: _Canvas, rng: np.random.Generator, box: Box,
                side_view: bool) -> None:
    """A truck: a cabin and a cargo box, or a box seen from behind."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    colour = _class_colour(rng, TRUCK, std=20, gain=(0.7, 1.6))
    cargo = _jitter(rng, colour * 0.5 + np.array([90, 90, 95]), std=20)
    r = 0.12 * h
    if side_view:
        front_left = rng.random() < 0.5
        cab = (x0, x0 + 0.28 * w) if front_left else (x1 - 0.28 * w, x1)
        box_x = (x0 + 0.3 * w, x1) if front_left else (x0, x1 - 0.3 * w)
        cv.rect(box_x[0], y0, box_x[1], y1 - r, TRUCK, cargo)
        cv.rect(cab[0], y0 + 0.3 * h, cab[1], y1 - r, TRUCK, colour)
        cv.rect(cab[0] + 0.15 * (cab[1] - cab[0]), y0 + 0.36 * h,
                cab[1] - 0.15 * (cab[1] - cab[0]), y0 + 0.55 * h, None,
                _jitter(rng, (45, 55, 70), std=10))
        _draw_wheels(cv, TRUCK, (x0 + 0.14 * w, x0 + 0.6 * w, x1 - 0.14 * w),
                     y1 - r, r, rng)
    else:
        cv.rect(x0, y0, x1, y1 - 0.08 * h, TRUCK, cargo)
        cv.rect(x0 + 0.05 * w, y0 + 0.05 * h, x1 - 0.05 * w, y1 - 0.2 * h,
                None, cargo * 0.85)
        cv.rect(x0, y1 - 0.2 * h, x1, y1 - 0.08 * h, TRUCK, colour)
        tyre = _jitter(rng, (25, 25, 28), std=5)
        cv.rect(x0 + 0.05 * w, y1 - 0.1 * h, x0 + 0.25 * w, y1, TRUCK, tyre)
        cv.rect(x1 - 0.25 * w, y1 - 0.1 * h, x1 - 0.05 * w, y1, TRUCK, tyre)


def _draw_bus(cv: _Canvas, rng: np.random.Generator, box: Box,
              side_view: bool) -> None:
    """A bus with a band of windows."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    colour = _class_colour(rng, BUS, std=18, gain=(0.8, 1.6))
    glass = _jitter(rng, (40, 50, 62), std=10)
    r = 0.1 * h
    cv.rect(x0, y0, x1, y1 - r, BUS, colour)
    cv.rect(x0 + 0.03 * w, y0 + 0.12 * h, x1 - 0.03 * w, y0 + 0.45 * h, None,
            glass)
    if side_view:
        pane = max(2.0, 0.12 * w)
        x = x0 + 0.03 * w + pane
        while x < x1 - 0.03 * w:
            cv.line((x, y0 + 0.12 * h), (x, y0 + 0.45 * h), None, colour)
            x += pane
        _draw_wheels(cv, BUS, (x0 + 0.15 * w, x1 - 0.15 * w), y1 - r, r, rng)
    else:
        tyre = _jitter(rng, (25, 25, 28), std=5)
        cv.rect(x0 + 0.05 * w, y1 - r, x0 + 0.2 * w, y1, BUS, tyre)
        cv.rect(x1 - 0.2 * w, y1 - r, x1 - 0.05 * w, y1, BUS, tyre)


def _draw_train(cv: _Canvas, rng: np.random.Generator, box: Box) -> None:
    """A tram/train seen from the side with windows and a stripe."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    colour = _class_colour(rng, TRAIN, std=16, gain=(0.8, 1.7))
    cv.rect(x0, y0, x1, y1, TRAIN, colour)
    cv.rect(x0, y0 + 0.62 * h, x1, y0 + 0.72 * h, None,
            _jitter(rng, (200, 200, 190), std=15))
    glass = _jitter(rng, (40, 50, 62), std=10)
    pane = max(3.0, h * 0.5)
    x = x0 + pane * 0.3
    while x + pane * 0.6 < x1:
        cv.rect(x, y0 + 0.15 * h, x + pane * 0.6, y0 + 0.5 * h, None, glass)
        x += pane
    cv.line((x0, y0), (x1, y0), TRAIN, colour * 0.6)


def _draw_person(cv: _Canvas,
                 rng: np.random.Generator,
                 box: Box,
                 cls: int = PERSON,
                 legs: bool = True) -> None:
    """A pedestrian (or the upper body of a rider when ``legs=False``)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    shirt = _class_colour(rng, cls, std=30, gain=(0.6, 1.2))
    trousers = _jitter(rng, shirt * 0.55, std=12)
    skin = _jitter(rng, (PALETTE[cls][0] * 0.4 + 120, 100, 90), std=12)
    head_r = max(0.5, 0.09 * h)
    cv.circle(cx, y0 + head_r, head_r, cls, skin)
    body_bottom = y0 + (0.58 if legs else 0.95) * h
    cv.poly([(cx - 0.35 * w, y0 + 2 * head_r),
             (cx + 0.35 * w, y0 + 2 * head_r), (cx + 0.28 * w, body_bottom),
             (cx - 0.28 * w, body_bottom)], cls, shirt)
    arm = max(1, int(round(0.12 * w)))
    cv.line((cx - 0.35 * w, y0 + 2.2 * head_r),
            (cx - 0.45 * w, body_bottom - 0.05 * h), cls, shirt, arm)
    cv.line((cx + 0.35 * w, y0 + 2.2 * head_r),
            (cx + 0.45 * w, body_bottom - 0.05 * h), cls, shirt, arm)
    if legs:
        stride = rng.uniform(0.0, 0.35) * w
        leg = max(1, int(round(0.22 * w)))
        cv.line((cx - 0.12 * w, body_bottom), (cx - 0.12 * w - stride, y1),
                cls, trousers, leg)
        cv.line((cx + 0.12 * w, body_bottom), (cx + 0.12 * w + stride, y1),
                cls, trousers, leg)


def _draw_bicycle(cv: _Canvas, rng: np.random.Generator, box: Box) -> None:
    """A side view of a bicycle: two wheel rings and a frame."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    r = min(0.5 * h, 0.25 * w)
    colour = _class_colour(rng, BICYCLE, std=18)
    tyre = _jitter(rng, (30, 25, 25), std=5)
    thick = max(1, int(round(0.2 * r)))
    rear, front = (x0 + r, y1 - r), (x1 - r, y1 - r)
    for cx, cy in (rear, front):
        cv.circle(cx, cy, r, BICYCLE, tyre, thick)
    seat = (x0 + 0.42 * w, y0)
    bar = (x1 - 0.3 * w, y0)
    crank = ((x0 + x1) / 2, y1 - r)
    for a, b in ((rear, seat), (seat, crank), (crank, rear), (seat, bar),
                 (bar, front), (bar, crank)):
        cv.line(a, b, BICYCLE, colour, thick)


def _draw_motorcycle(cv: _Canvas, rng: np.random.Generator, box: Box) -> None:
    """A side view of a motorcycle: filled wheels and a body."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    r = min(0.4 * h, 0.22 * w)
    colour = _class_colour(rng, MOTORCYCLE, std=20, gain=(0.7, 1.1))
    _draw_wheels(cv, MOTORCYCLE, (x0 + r, x1 - r), y1 - r, r, rng)
    cv.poly([(x0 + 0.5 * r, y1 - 1.2 * r), (x0 + 0.3 * w, y0 + 0.3 * h),
             (x1 - 0.25 * w, y0), (x1 - 0.5 * r, y1 - 1.4 * r),
             ((x0 + x1) / 2, y1 - 0.6 * r)], MOTORCYCLE, colour)
    cv.circle(x1 - 0.22 * w, y0 + 0.25 * h, max(0.5, 0.12 * h), None,
              _jitter(rng, (230, 220, 170), std=10))


def _draw_rider(cv: _Canvas, rng: np.random.Generator, box: Box,
                vehicle: int) -> None:
    """A rider on a bicycle or motorcycle (box covers both)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    bike_top = y0 + 0.5 * h
    draw = _draw_bicycle if vehicle == BICYCLE else _draw_motorcycle
    draw(cv, rng, (x0, bike_top, x1, y1))
    body_w = 0.3 * w
    cx = x0 + 0.45 * w
    _draw_person(
        cv,
        rng, (cx - body_w / 2, y0, cx + body_w / 2, bike_top + 0.1 * h),
        RIDER,
        legs=False)
    leg = max(1, int(round(0.07 * w)))
    trousers = _jitter(rng, (90, 20, 20), std=15)
    cv.line((cx, bike_top + 0.05 * h), ((x0 + x1) / 2, y1 - 0.2 * h), RIDER,
            trousers, leg)


def _draw_pole(cv: _Canvas, rng: np.random.Generator, box: Box,
               attachment: Optional[int]) -> None:
    """A pole, optionally with a traffic sign or traffic light on top.

    Args:
        cv (_Canvas): Canvas.
        rng (np.random.Generator): Random generator.
        box (tuple): ``(x0, y0, x1, y1)`` box of pole and attachment.
        attachment (int, optional): ``SIGN``, ``LIGHT`` or None.
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    thick = max(0.5, 0.1 * w)
    cv.rect(cx - thick / 2, y0 + 0.1 * h, cx + thick / 2, y1, POLE,
            _class_colour(rng, POLE, std=18, gain=(0.7, 1.2)))
    if attachment == SIGN:
        size = 0.45 * w
        sy = y0 + size
        colour = _class_colour(rng, SIGN, std=18, gain=(0.75, 1.1))
        shape = int(rng.integers(0, 4))
        if shape == 0:
            cv.circle(cx, sy, size, SIGN, colour)
            cv.circle(cx, sy, size * 0.6, None, colour * 0.75)
        elif shape == 1:
            cv.rect(cx - size, sy - size * 0.8, cx + size, sy + size * 0.8,
                    SIGN, colour)
        elif shape == 2:
            cv.poly([(cx - size, sy - size), (cx + size, sy - size),
                     (cx, sy + size)], SIGN, colour)
        else:
            cv.poly([(cx, sy - size), (cx + size, sy), (cx, sy + size),
                     (cx - size, sy)], SIGN, colour)
    elif attachment == LIGHT:
        lw = 0.3 * w
        lh = 2.6 * lw
        colour = _class_colour(rng, LIGHT, std=18, gain=(0.6, 1.05))
        cv.rect(cx - lw, y0, cx + lw, y0 + lh, LIGHT, colour)
        lit = int(rng.integers(0, 3))
        lamps = ((255, 40, 30), (255, 200, 40), (60, 255, 120))
        for k in range(3):
            ly = y0 + (k + 0.5) * lh / 3
            lamp = np.asarray(lamps[k],
                              np.float64) * (1.0 if k == lit else 0.3)
            cv.circle(cx, ly, lw * 0.5, None, lamp)


# --------------------------------------------------------------------------
# Object placement
# --------------------------------------------------------------------------
def _vehicle_box(lay: _Layout, cls: int, x: float, y: float,
                 side_view: bool) -> Box:
    """Box of a vehicle of class ``cls`` standing at ``(x, y)``."""
    s = lay.depth(y) * lay.height
    height = {CAR: 0.33, TRUCK: 0.55, BUS: 0.6, TRAIN: 0.7}[cls] * s
    aspect = {
        CAR: (2.4, 1.6),
        TRUCK: (2.6, 1.0),
        BUS: (2.8, 1.1),
        TRAIN: (6.0, 6.0)
    }[cls][0 if side_view else 1]
    width = height * aspect
    return (x - width / 2, y - height, x + width / 2, y)


def _person_box(lay: _Layout, x: float, y: float) -> Box:
    height = 0.42 * lay.depth(y) * lay.height
    return (x - 0.18 * height, y - height, x + 0.18 * height, y)


def _rider_box(lay: _Layout, x: float, y: float) -> Box:
    height = 0.48 * lay.depth(y) * lay.height
    return (x - 0.45 * height, y - height, x + 0.45 * height, y)


def _pole_box(lay: _Layout, rng: np.random.Generator, x: float,
              y: float) -> Box:
    s = lay.depth(y)
    height = s * lay.height * rng.uniform(0.9, 1.5)
    width = max(2.0, s * lay.width * 0.06)
    return (x - width / 2, y - height, x + width / 2, y)


def _add_shadow(cv: _Canvas, rng: np.random.Generator, box: Box) -> None:
    x0, _, x1, y1 = box
    w = x1 - x0
    depth = max(1.0, 0.08 * w)
    cv.shade([(x0 - 0.05 * w, y1 - depth), (x1 + 0.1 * w, y1 - depth),
              (x1 + 0.15 * w, y1 + depth), (x0, y1 + depth)],
             rng.uniform(0.45, 0.7))


def _plan_objects(rng: np.random.Generator,
                  lay: _Layout) -> List[Tuple[float, Callable]]:
    """Randomly place the foreground objects of a scene.

    Returns:
        list[tuple[float, Callable]]: ``(ground_y, draw_fn)`` items; the
            caller draws them from far (small y) to near.
    """
    items = []

    def add(y: float, fn: Callable) -> None:
        items.append((y, fn))

    for _ in range(int(rng.integers(1, 5))):  # poles with signs/lights
        side = int(rng.integers(0, 2))
        y = lay.ground_row(rng, 0.15, 0.9)
        x = lay.walk_point(rng, y, side)
        roll = rng.random()
        att = SIGN if roll < 0.5 else LIGHT if roll < 0.8 else None
        box = _pole_box(lay, rng, x, y)
        add(y, lambda cv, r, b=box, a=att: _draw_pole(cv, r, b, a))
    for _ in range(int(rng.integers(0, 6))):  # vehicles on the road
        cls = int(rng.choice((CAR, TRUCK, BUS), p=(0.7, 0.15, 0.15)))
        y = lay.ground_row(rng, 0.12, 1.0)
        road_l, road_r = lay.road_edges(y)
        x = rng.uniform(road_l, road_r)
        side_view = bool(rng.random() < 0.4)
        box = _vehicle_box(lay, cls, x, y, side_view)
        add(y, _vehicle_drawer(cls, box, side_view))
    if rng.random() < 0.12:  # an occasional train/tram
        y = lay.ground_row(rng, 0.1, 0.35)
        x = rng.uniform(0.2, 0.8) * lay.width
        box = _vehicle_box(lay, TRAIN, x, y, True)
        add(y, lambda cv, r, b=box: _draw_train(cv, r, b))
    for _ in range(int(rng.integers(0, 6))):  # pedestrians
        y = lay.ground_row(rng, 0.1, 1.0)
        if rng.random() < 0.15:
            x = rng.uniform(*lay.road_edges(y))
        else:
            x = lay.walk_point(rng, y, int(rng.integers(0, 2)))
        box = _person_box(lay, x, y)
        add(y, lambda cv, r, b=box: _draw_person(cv, r, b))
    for _ in range(int(rng.choice((0, 1, 2), p=(0.4, 0.4, 0.2)))):  # riders
        y = lay.ground_row(rng, 0.15, 1.0)
        road_l, road_r = lay.road_edges(y)
        x = road_l + rng.uniform(0.05, 0.3) * (road_r - road_l)
        if rng.random() < 0.5:
            x = road_r - (x - road_l)
        vehicle = BICYCLE if rng.random() < 0.55 else MOTORCYCLE
        box = _rider_box(lay, x, y)
        add(y, lambda cv, r, b=box, v=vehicle: _draw_rider(cv, r, b, v))
    if rng.random() < 0.3:  # a parked bicycle or motorcycle
        y = lay.ground_row(rng, 0.2, 1.0)
        x = lay.walk_point(rng, y, int(rng.integers(0, 2)))
        x0, y0, x1, _ = _rider_box(lay, x, y)
        box = (x0, y0 + 0.5 * (y - y0), x1, y)
        draw = _draw_bicycle if rng.random() < 0.6 else _draw_motorcycle
        add(y, lambda cv, r, b=box, d=draw: d(cv, r, b))
    return items


def _vehicle_drawer(cls: int, box: Box, side_view: bool) -> Callable:
    """Return a ``fn(canvas, rng)`` that draws a vehicle and its shadow."""
    drawer = {CAR: _draw_car, TRUCK: _draw_truck, BUS: _draw_bus}[cls]

    def draw(cv: _Canvas, rng: np.random.Generator) -> None:
        _add_shadow(cv, rng, box)
        drawer(cv, rng, box, side_view)

    return draw


def _draw_ego_vehicle(cv: _Canvas, rng: np.random.Generator,
                      lay: _Layout) -> None:
    """Bonnet of the ego vehicle at the bottom, labelled ignore (255)."""
    if not lay.has_ego:
        return
    curve = (cv.height - lay.ego_top) * rng.uniform(0.3, 0.6)
    xs = np.linspace(-1.0, cv.width, 17)
    ys = lay.ego_top + curve * ((xs - cv.width / 2) / (cv.width / 2))**2
    pts = list(zip(xs, ys)) + [(cv.width, cv.height), (-1.0, cv.height)]
    colour = _jitter(rng, (40, 40, 46), std=6, gain=(0.7, 1.3))
    cv.poly(pts, IGNORE_INDEX, colour)
    cv.poly([(x, y + 1.0)
             for x, y in zip(xs, ys)] + [(x, y + 2.0)
                                         for x, y in zip(xs[::-1], ys[::-1])],
            None, colour + 45)


# --------------------------------------------------------------------------
# Forcing classes that a random draw missed
# --------------------------------------------------------------------------
def _draw_forced(cv: _Canvas, rng: np.random.Generator, lay: _Layout,
                 forced: Sequence[int]) -> None:
    """Draw one object per forced class, each in its own vertical slot.

    Foreground classes get a regular object in their slot; afterwards any
    forced class that is still not visible gets a small patch in its slot,
    which guarantees that every forced class is present.
    """
    forced = sorted(set(forced))
    if not forced:
        return
    slot_w = cv.width / len(forced)
    slots = {
        cls: (k * slot_w, (k + 1) * slot_w)
        for k, cls in enumerate(forced)
    }
    for cls in forced:
        x0, x1 = slots[cls]
        y = lay.horizon + rng.uniform(0.6, 0.95) * (
            lay.ego_top - 1 - lay.horizon)
        _draw_forced_object(cv, rng, lay, cls, (x0, x1), y)
    present = np.bincount(cv.label.ravel(), minlength=256)
    for cls in forced:
        if present[cls] > 0:
            continue
        x0, x1 = slots[cls]
        x1 = max(x0, x1 - 1)
        if cls == SKY:
            y0, y1 = 0, max(0.0, lay.horizon * 0.3)
        else:
            y1 = lay.ego_top - 1
            y0 = y1 - max(0.0, (y1 - lay.horizon) * 0.2)
        cv.rect(x0, y0, x1, y1, cls, _class_colour(rng, cls))


def _draw_forced_object(cv: _Canvas, rng: np.random.Generator, lay: _Layout,
                        cls: int, slot: Tuple[float, float], y: float) -> None:
    """Draw a foreground object of class ``cls`` that fits in ``slot``."""
    cx = (slot[0] + slot[1]) / 2
    if cls in (POLE, SIGN, LIGHT):
        box = _pole_box(lay, rng, cx, y)
    elif cls == PERSON:
        box = _person_box(lay, cx, y)
    elif cls in (RIDER, BICYCLE, MOTORCYCLE):
        box = _rider_box(lay, cx, y)
    elif cls in (CAR, TRUCK, BUS, TRAIN):
        box = _vehicle_box(lay, cls, cx, y, side_view=cls == TRAIN)
    else:
        return  # background classes are forced through the layout
    half = min((box[2] - box[0]) / 2, (slot[1] - slot[0]) / 2)
    box = (cx - half, box[1], cx + half, box[3])
    if cls in (POLE, SIGN, LIGHT):
        _draw_pole(cv, rng, box, None if cls == POLE else cls)
    elif cls == PERSON:
        _draw_person(cv, rng, box)
    elif cls == RIDER:
        _draw_rider(cv, rng, box,
                    BICYCLE if rng.random() < 0.5 else MOTORCYCLE)
    elif cls in (BICYCLE, MOTORCYCLE):
        draw = _draw_bicycle if cls == BICYCLE else _draw_motorcycle
        draw(cv, rng, (box[0], (box[1] + box[3]) / 2, box[2], box[3]))
    elif cls == TRAIN:
        _draw_train(cv, rng, box)
    else:
        _vehicle_drawer(cls, box, side_view=False)(cv, rng)


# --------------------------------------------------------------------------
# Rendering of one sample
# --------------------------------------------------------------------------
def _finish_image(cv: _Canvas, rng: np.random.Generator) -> np.ndarray:
    """Apply texture, illumination, blur and sensor noise.

    Returns:
        np.ndarray: The final ``(H, W, 3)`` uint8 RGB image.
    """
    h, w = cv.height, cv.width
    amp = np.full(256, _DEFAULT_TEXTURE_AMPLITUDE, np.float32)
    for cls, value in _TEXTURE_AMPLITUDE.items():
        amp[cls] = value
    fine = rng.normal(0.0, 1.0, (h, w)).astype(np.float32)
    coarse = rng.normal(0.0, 1.0, (max(1, h // 6), max(1, w // 6)))
    coarse = cv2.resize(
        coarse.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    texture = 0.6 * fine + 0.8 * coarse
    img = cv.img * (1.0 + amp[cv.label] * texture)[..., None]
    # illumination: global gain, colour cast and a smooth gradient
    gain = rng.uniform(0.7, 1.25) * rng.uniform(0.9, 1.1, 3)
    gy, gx = rng.uniform(-0.2, 0.2, 2)
    ys = np.linspace(-0.5, 0.5, h, dtype=np.float32)[:, None]
    xs = np.linspace(-0.5, 0.5, w, dtype=np.float32)[None, :]
    light = 1.0 + gy * ys + gx * xs
    img = img * light[..., None] * gain.astype(np.float32)
    img = cv2.GaussianBlur(img, (3, 3), sigmaX=rng.uniform(0.3, 0.9))
    img = img + rng.normal(0.0, rng.uniform(2.0, 7.0), img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def _sample_rngs(seed: int, split: str,
                 index: int) -> List[np.random.Generator]:
    """Independent generators for the scene, forced objects and finishing."""
    key = [int(seed), _SPLIT_CODES[split], int(index)]
    return [np.random.default_rng(key + [k]) for k in range(3)]


def render_sample(
    seed: int,
    split: str,
    index: int,
    height: int,
    width: int,
    forced: Sequence[int] = ()) -> Tuple[np.ndarray, np.ndarray]:
    """Render one synthetic street scene.

    Args:
        seed (int): Data set seed.
        split (str): ``'train'`` or ``'val'``.
        index (int): Index of the sample in its split.
        height (int): Image height.
        width (int): Image width.
        forced (Sequence[int]): Train ids that must appear in the sample.

    Returns:
        tuple[np.ndarray, np.ndarray]: The ``(H, W, 3)`` uint8 RGB image and
            the ``(H, W)`` uint8 label map of train ids (255 = ignore).
    """
    scene_rng, forced_rng, finish_rng = _sample_rngs(seed, split, index)
    cv = _Canvas(height, width)
    lay = _Layout(scene_rng, height, width)
    _draw_sky(cv, scene_rng, lay)
    _draw_background(cv, scene_rng, lay, set(forced))
    _draw_ground(cv, scene_rng, lay)
    if scene_rng.random() < 0.4:  # shadow of a building across the street
        y = lay.ground_row(scene_rng, 0.2, 0.9)
        cv.shade([(-1, y), (width, y - height * 0.1), (width, height),
                  (-1, height)], scene_rng.uniform(0.6, 0.85))
    for side in (0, 1):
        if scene_rng.random() < 0.35:
            _draw_side_barrier(cv, scene_rng, lay, side)
        if scene_rng.random() < 0.3:
            y = lay.ground_row(scene_rng, 0.3, 0.9)
            _draw_tree(cv, scene_rng,
                       lay.walk_edges(y)[side], y,
                       lay.depth(y) * height * scene_rng.uniform(0.15, 0.3))
    for _, draw in sorted(_plan_objects(scene_rng, lay), key=lambda i: i[0]):
        draw(cv, scene_rng)
    _draw_ego_vehicle(cv, scene_rng, lay)
    _draw_forced(cv, forced_rng, lay, forced)
    return _finish_image(cv, finish_rng), cv.label


# --------------------------------------------------------------------------
# Files, manifest and the public entry point
# --------------------------------------------------------------------------
def _check_args(data_root, num_train, num_val, height, width, seed,
                city) -> None:
    """Raise ``ValueError`` for invalid generator arguments."""
    if not isinstance(data_root, (str, os.PathLike)) or not str(data_root):
        raise ValueError(f'data_root must be a non-empty path, got '
                         f'{data_root!r}')
    for name, value, low in (('num_train', num_train,
                              1), ('num_val', num_val, 1), ('height', height,
                                                            MIN_SIZE),
                             ('width', width, MIN_SIZE), ('seed', seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f'{name} must be an int, got {value!r}')
        if value < low:
            raise ValueError(f'{name} must be >= {low}, got {value}')
    for name, value in (('num_train', num_train), ('num_val', num_val)):
        if value > MAX_SAMPLES:
            raise ValueError(f'{name} must be <= {MAX_SAMPLES}, got {value}')
    if not isinstance(city, str) or not _CITY_PATTERN.match(city):
        raise ValueError('city must be a non-empty string of letters, digits '
                         f'and "-" (no "_" or path separators), got {city!r}')


def _sample_names(city: str, num: int) -> List[str]:
    return [f'{city}_{i:06d}_{FRAME_ID:06d}' for i in range(num)]


def _split_dirs(data_root: str, split: str, city: str) -> Tuple[str, str]:
    return (osp.join(data_root, 'leftImg8bit', split,
                     city), osp.join(data_root, 'gtFine', split, city))


def _expected_files(data_root: str, args: Dict) -> List[str]:
    """All image and label paths that a generation with ``args`` writes."""
    files = []
    for split in SPLITS:
        img_dir, seg_dir = _split_dirs(data_root, split, args['city'])
        for name in _sample_names(args['city'], args[f'num_{split}']):
            files.append(osp.join(img_dir, name + IMG_SUFFIX))
            files.append(osp.join(seg_dir, name + SEG_MAP_SUFFIX))
    return files


def _write_png(path: str, array: np.ndarray) -> None:
    """Write an RGB or single-channel uint8 array as a deterministic PNG."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode('.png', array, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise RuntimeError(f'Failed to encode {path}')
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def _read_manifest(path: str) -> Optional[Dict]:
    try:
        with open(path, 'r', encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _is_up_to_date(data_root: str, manifest: Optional[Dict],
                   args: Dict) -> bool:
    if manifest is None or manifest.get('format_version') != FORMAT_VERSION \
            or manifest.get('args') != args:
        return False
    return all(osp.isfile(p) for p in _expected_files(data_root, args))


def _remove_stale_files(data_root: str, old: Optional[Dict],
                        args: Dict) -> None:
    """Remove files of a previous generation that the new one won't write."""
    if old is None or not isinstance(old.get('args'), dict):
        return
    try:
        old_files = _expected_files(data_root, old['args'])
    except (KeyError, TypeError):
        return
    keep = set(_expected_files(data_root, args))
    for path in old_files:
        if path not in keep and osp.isfile(path):
            os.remove(path)


def _generate_split(data_root: str, split: str, args: Dict) -> Dict:
    """Render and write one split, forcing classes that were missed.

    Returns:
        dict: ``num_samples``, ``class_pixel_counts`` (list indexed by train
            id), ``ignore_pixel_count`` and ``forced`` (sample index ->
            forced train ids).
    """
    num = args[f'num_{split}']
    img_dir, seg_dir = _split_dirs(data_root, split, args['city'])
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(seg_dir, exist_ok=True)
    names = _sample_names(args['city'], num)
    counts: Dict[int, np.ndarray] = {}
    forced: Dict[int, Set[int]] = {}

    def render(index: int) -> None:
        img, label = render_sample(args['seed'], split, index,
                                   args['height'], args['width'],
                                   sorted(forced.get(index, ())))
        _write_png(osp.join(img_dir, names[index] + IMG_SUFFIX), img)
        _write_png(osp.join(seg_dir, names[index] + SEG_MAP_SUFFIX), label)
        counts[index] = np.bincount(label.ravel(), minlength=256)

    for index in range(num):
        render(index)
    for _ in range(NUM_CLASSES + 1):
        total = sum(counts.values())
        missing = [c for c in range(NUM_CLASSES) if total[c] == 0]
        if not missing:
            break
        targets = set()
        for cls in missing:
            index = (cls * 7) % num
            forced.setdefault(index, set()).add(cls)
            targets.add(index)
        for index in sorted(targets):
            render(index)
    total = sum(counts.values())
    if any(total[c] == 0 for c in range(NUM_CLASSES)):
        raise RuntimeError(f'Could not place every class in split {split}')
    return dict(
        num_samples=num,
        class_pixel_counts=[int(v) for v in total[:NUM_CLASSES]],
        ignore_pixel_count=int(total[IGNORE_INDEX]),
        forced={
            str(k): sorted(v)
            for k, v in sorted(forced.items())
        })


def _summary(data_root: str, manifest: Dict, generated: bool) -> Dict:
    args = manifest['args']
    splits = {}
    for split in SPLITS:
        img_dir, seg_dir = _split_dirs(data_root, split, args['city'])
        info = dict(manifest['splits'][split])
        info.update(
            img_dir=img_dir,
            seg_map_dir=seg_dir,
            img_prefix=osp.join('leftImg8bit', split),
            seg_map_prefix=osp.join('gtFine', split),
            names=_sample_names(args['city'], args[f'num_{split}']))
        splits[split] = info
    return dict(
        data_root=data_root,
        manifest=osp.join(data_root, MANIFEST_NAME),
        generated=generated,
        format_version=manifest['format_version'],
        args=dict(args),
        classes=list(CLASSES),
        splits=splits)


def generate_demo_cityscapes(data_root: str,
                             num_train: int = 48,
                             num_val: int = 12,
                             height: int = 128,
                             width: int = 256,
                             seed: int = 0,
                             city: str = 'democity',
                             force: bool = False) -> Dict:
    """Write a small deterministic Cityscapes-format demo data set.

    The scenes are synthetic street views labelled with the 19 Cityscapes
    train ids (255 marks the ego-vehicle, which is ignored). Every class
    appears in both splits. The same arguments give byte-identical files.
    A ``demo_manifest.json`` records the arguments; if it matches and all
    files exist, nothing is written unless ``force`` is True. Files of a
    previous generation with other arguments that are not rewritten are
    removed, so the folders never mix two generations.

    Args:
        data_root (str): Output folder (created if needed).
        num_train (int): Number of training samples. Defaults to 48.
        num_val (int): Number of validation samples. Defaults to 12.
        height (int): Image height, >= 32. Defaults to 128.
        width (int): Image width, >= 32. Defaults to 256.
        seed (int): Non-negative random seed. Defaults to 0.
        city (str): City name used in folder and file names.
            Defaults to 'democity'.
        force (bool): Regenerate even if an up-to-date data set exists.
            Defaults to False.

    Returns:
        dict: Summary with ``data_root``, ``manifest`` (path), ``generated``
            (False if the existing files were reused), ``args``, ``classes``
            and, per split in ``splits``, ``num_samples``, ``img_dir``,
            ``seg_map_dir``, ``img_prefix``/``seg_map_prefix`` (relative to
            ``data_root``, for ``data_prefix``), ``names``,
            ``class_pixel_counts`` (list indexed by train id),
            ``ignore_pixel_count`` and ``forced`` (classes forced into
            samples because the random draw missed them).

    Raises:
        ValueError: If an argument is invalid.
    """
    _check_args(data_root, num_train, num_val, height, width, seed, city)
    data_root = os.fspath(data_root)
    args = dict(
        num_train=int(num_train),
        num_val=int(num_val),
        height=int(height),
        width=int(width),
        seed=int(seed),
        city=city)
    manifest_path = osp.join(data_root, MANIFEST_NAME)
    old = _read_manifest(manifest_path)
    if not force and _is_up_to_date(data_root, old, args):
        return _summary(data_root, old, generated=False)
    os.makedirs(data_root, exist_ok=True)
    if osp.exists(manifest_path):
        os.remove(manifest_path)
    _remove_stale_files(data_root, old, args)
    manifest = dict(
        format_version=FORMAT_VERSION,
        generator='rgpnet_mmseg.datasets.demo_data.generate_demo_cityscapes',
        args=args,
        classes=list(CLASSES),
        splits={s: _generate_split(data_root, s, args)
                for s in SPLITS})
    tmp_path = manifest_path + '.tmp'
    with open(tmp_path, 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(tmp_path, manifest_path)
    return _summary(data_root, manifest, generated=True)
