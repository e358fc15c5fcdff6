# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Synthetic street scenes for the demo data set (``make_demo_data.py``).

:func:`render_sample` draws a deterministic street-like scene (sky,
buildings, road and sidewalks, poles with signs and lights, vehicles,
pedestrians, riders, ...) labelled with the 19 Cityscapes train ids (255:
the ego vehicle, ignored). numpy and OpenCV only, so the data can be made
before the OpenMMLab stack is installed.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

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
# amplitude of the multiplicative texture per class (default 0.05)
TEXTURE = {ROAD: 0.07, SIDEWALK: 0.06, BUILDING: 0.08, WALL: 0.08,
           FENCE: 0.06, VEGETATION: 0.3, TERRAIN: 0.2, SKY: 0.015}
SPLIT_CODES = {'train': 0, 'val': 1}
TYRE, GLASS, DARK_GLASS = (25, 25, 28), (40, 50, 62), (45, 55, 70)


def _ipt(point: Sequence[float]) -> Tuple[int, ...]:
    return tuple(int(round(v)) for v in point)


def _as_points(points) -> np.ndarray:
    """Round ``(x, y)`` points to the int32 ``(N, 1, 2)`` array of cv2."""
    pts = np.round(np.asarray(points, dtype=np.float64))
    return pts.astype(np.int32).reshape(-1, 1, 2)


def _jitter(rng: np.random.Generator, base, std: float = 14.0,
            gain: Tuple[float, float] = (0.85, 1.15)) -> np.ndarray:
    """An RGB colour times a random gain plus per-channel noise."""
    colour = np.asarray(base, np.float64) * rng.uniform(*gain)
    colour = colour + rng.normal(0.0, std, 3)
    return np.clip(colour, 0.0, 255.0)


def _class_colour(rng: np.random.Generator, cls: int, **kwargs) -> np.ndarray:
    return _jitter(rng, PALETTE[cls], **kwargs)


class _Canvas:
    """A label map and a float RGB image drawn on together; ``cls=None``
    draws on the image only (details inside an object)."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width
        self.label = np.full((height, width), SKY, dtype=np.uint8)
        self.img = np.zeros((height, width, 3), dtype=np.float32)

    def _draw(self, fn: Callable, cls: Optional[int], colour, *args,
              **kwargs) -> None:
        if cls is not None:
            fn(self.label, *args, color=int(cls), lineType=cv2.LINE_8,
               **kwargs)
        fn(self.img, *args, color=tuple(float(c) for c in colour),
           lineType=cv2.LINE_8, **kwargs)

    def poly(self, points, cls: Optional[int], colour) -> None:
        self._draw(cv2.fillPoly, cls, colour, [_as_points(points)])

    def rect(self, x0, y0, x1, y1, cls: Optional[int], colour) -> None:
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], cls, colour)

    def circle(self, cx, cy, r, cls: Optional[int], colour,
               thickness: int = -1) -> None:
        self._draw(cv2.circle, cls, colour, _ipt((cx, cy)),
                   max(0, int(round(r))), thickness=thickness)

    def line(self, p0, p1, cls: Optional[int], colour,
             thickness: int = 1) -> None:
        self._draw(cv2.line, cls, colour, _ipt(p0), _ipt(p1),
                   thickness=max(1, int(thickness)))

    def ellipse(self, cx, cy, ax, ay, cls: Optional[int], colour) -> None:
        axes = (max(0, int(round(ax))), max(0, int(round(ay))))
        self._draw(cv2.ellipse, cls, colour, _ipt((cx, cy)), axes, 0, 0, 360,
                   thickness=-1)

    def shade(self, points, factor: float) -> None:
        """Darken (or brighten) the image inside a polygon (a shadow)."""
        mask = np.zeros((self.height, self.width), np.uint8)
        cv2.fillPoly(mask, [_as_points(points)], 1, cv2.LINE_8)
        self.img[mask > 0] *= np.float32(factor)


class _Box:
    """An object's box ``(x0, y0, x1, y1)``, ``y1`` on the ground, with
    offsets in fractions of its width ``w`` and height ``h``."""

    def __init__(self, box: Sequence[float]) -> None:
        self.x0, self.y0, self.x1, self.y1 = box
        self.w, self.h = self.x1 - self.x0, self.y1 - self.y0

    def lx(self, f: float) -> float:
        return self.x0 + f * self.w

    def rx(self, f: float) -> float:
        return self.x1 - f * self.w

    def ty(self, f: float) -> float:
        return self.y0 + f * self.h

    def by(self, f: float) -> float:
        return self.y1 - f * self.h


class _Layout:
    """Random perspective geometry: a road trapezoid from a vanishing point
    on the horizon to the bottom, a sidewalk on each side, terrain beyond,
    sometimes an ego-vehicle bonnet at the bottom."""

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
        """Perspective scale of row y: 0 at the horizon, 1 at the bottom."""
        t = (y - self.horizon) / (self.height - self.horizon)
        return float(min(max(t, 0.0), 1.0))

    def road_edges(self, y: float) -> Tuple[float, float]:
        t = self.depth(y)
        left, right = self.vx - self.road_top, self.vx + self.road_top
        return (left + t * (self.road_bottom[0] - left),
                right + t * (self.road_bottom[1] - right))

    def walk_edges(self, y: float) -> Tuple[float, float]:
        """Outer x of the left and right sidewalks at row ``y``."""
        t = self.depth(y)
        left = self.vx - self.road_top - self.walk_top
        right = self.vx + self.road_top + self.walk_top
        bottom_left = self.road_bottom[0] - self.walk_bottom[0]
        bottom_right = self.road_bottom[1] + self.walk_bottom[1]
        return (left + t * (bottom_left - left),
                right + t * (bottom_right - right))

    def ground_row(self, rng, lo: float, hi: float) -> float:
        """A random row between the horizon and the ego vehicle."""
        return self.horizon + rng.uniform(lo, hi) * (
            self.ego_top - self.horizon)

    def walk_point(self, rng, y: float, side: int) -> float:
        """A random x on the left (0) or right (1) sidewalk at row y."""
        (road_l, road_r), (walk_l, walk_r) = self.road_edges(y), \
            self.walk_edges(y)
        u = rng.uniform(0.15, 0.85)
        return walk_l + u * (road_l - walk_l) if side == 0 else \
            road_r + u * (walk_r - road_r)


# Background: sky, ground, the row of buildings etc. along the horizon
def _draw_sky(cv: _Canvas, rng, lay: _Layout) -> None:
    top = _jitter(rng, PALETTE[SKY], std=10, gain=(0.7, 0.95))
    bottom = np.clip(top * rng.uniform(1.1, 1.35) + rng.uniform(15, 45), 0,
                     255)
    t = np.linspace(0.0, 1.0, cv.height, dtype=np.float64)[:, None]
    t = np.clip(t * cv.height / max(lay.horizon, 1.0), 0.0, 1.0)
    cv.img[:] = (top * (1 - t) + bottom * t)[:, None, :].astype(np.float32)
    for _ in range(int(rng.integers(0, 4))):  # clouds
        ax = cv.width * rng.uniform(0.05, 0.15)
        ay = lay.horizon * rng.uniform(0.05, 0.12)
        cx = rng.uniform(0, cv.width)
        cy = rng.uniform(0, max(lay.horizon - 2 * ay, 1.0))
        mix = rng.uniform(0.3, 0.6)
        cv.ellipse(cx, cy, ax, ay, SKY,
                   top * (1 - mix) + np.full(3, 235.0) * mix)


def _draw_ground(cv: _Canvas, rng, lay: _Layout) -> None:
    """Terrain, sidewalks with tiles, the road, curbs and markings."""
    h, w, yh = cv.height, cv.width, lay.horizon
    cv.rect(-1, yh, w, h, TERRAIN, _class_colour(rng, TERRAIN, std=16))
    road_l, road_r = lay.road_bottom
    top_l, top_r = lay.road_edges(yh)
    out_l, out_r = lay.walk_edges(yh)
    walk_l, walk_r = road_l - lay.walk_bottom[0], road_r + lay.walk_bottom[1]
    walk_colour = _class_colour(rng, SIDEWALK, std=16)
    cv.poly([(out_l, yh), (top_l, yh), (road_l, h), (walk_l, h)], SIDEWALK,
            walk_colour)
    cv.poly([(top_r, yh), (out_r, yh), (walk_r, h), (road_r, h)], SIDEWALK,
            walk_colour * rng.uniform(0.9, 1.1))
    tile = walk_colour * rng.uniform(0.7, 0.85)
    for k in range(1, 10):
        y = yh + (h - yh) * (k / 10.0)**1.7
        (rl, rr), (wl, wr) = lay.road_edges(y), lay.walk_edges(y)
        cv.line((wl, y), (rl, y), None, tile)
        cv.line((rr, y), (wr, y), None, tile)
    cv.poly([(top_l, yh), (top_r, yh), (road_r, h), (road_l, h)], ROAD,
            _class_colour(rng, ROAD, std=12))
    curb = np.clip(walk_colour * 0.5 + 110, 0, 255)
    cv.line((top_l, yh), (road_l, h), None, curb)
    cv.line((top_r, yh), (road_r, h), None, curb)
    # dashed centre line and, sometimes, a zebra crossing (label road)
    paint = _jitter(rng, (225, 225, 215), std=8, gain=(0.85, 1.05))
    offset = rng.uniform(0.0, 0.2)
    for k in range(6):
        u0 = offset + k * 0.2
        if u0 >= 1.0:
            break
        y0 = yh + (h - yh) * u0**1.5
        y1 = yh + (h - yh) * min(u0 + 0.1, 1.0)**1.5
        x0, x1 = (sum(lay.road_edges(y0)) / 2, sum(lay.road_edges(y1)) / 2)
        thick = max(1, int(round(lay.depth(y1) * cv.width * 0.012)))
        cv.line((x0, y0), (x1, y1), ROAD, paint, thick)
    if rng.random() < 0.25:
        y1 = lay.ground_row(rng, 0.55, 0.85)
        y0 = y1 - max(1.0, (y1 - yh) * 0.12)
        (rl0, rr0), (rl1, rr1) = lay.road_edges(y0), lay.road_edges(y1)
        for k in range(0, 9, 2):
            a, b = k / 9, (k + 1) / 9
            cv.poly([(rl0 + a * (rr0 - rl0), y0), (rl0 + b * (rr0 - rl0), y0),
                     (rl1 + b * (rr1 - rl1), y1), (rl1 + a * (rr1 - rl1), y1)],
                    ROAD, paint)


def _draw_building(cv: _Canvas, rng, x0, x1, base, lay: _Layout) -> None:
    """A facade with a grid of windows and, sometimes, a gable roof."""
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


def _draw_tree(cv: _Canvas, rng, cx, base, crown) -> None:
    """A trunk and a crown of overlapping circles (all vegetation)."""
    trunk = _jitter(rng, (95, 75, 55), std=8)
    cy = base - crown * rng.uniform(1.3, 2.2)
    cv.rect(cx - max(0.5, crown * 0.12), cy, cx + max(0.5, crown * 0.12), base,
            VEGETATION, trunk)
    leaves = _class_colour(rng, VEGETATION, std=14)
    for _ in range(int(rng.integers(1, 4))):
        dx, dy = rng.normal(0.0, crown * 0.4, 2)
        cv.circle(cx + dx, cy + dy, crown * rng.uniform(0.6, 1.0), VEGETATION,
                  leaves * rng.uniform(0.85, 1.15))


def _draw_vegetation(cv: _Canvas, rng, x0, x1, base, lay) -> None:
    """A group of trees behind a low hedge."""
    for _ in range(max(1, int((x1 - x0) / (cv.width * 0.08)))):
        crown = cv.height * rng.uniform(0.05, 0.12)
        _draw_tree(cv, rng, rng.uniform(x0, x1), base, crown)
    hedge = base - cv.height * rng.uniform(0.02, 0.06)
    cv.rect(x0, hedge, x1, base, VEGETATION,
            _class_colour(rng, VEGETATION, std=14, gain=(0.7, 1.0)))


def _draw_wall_or_fence(cls: int) -> Callable:
    """A low wall with horizontal joints, or a fence with a lattice."""

    def draw(cv: _Canvas, rng, x0, x1, base, lay) -> None:
        top = base - cv.height * rng.uniform(0.04, 0.12)
        colour = _class_colour(rng, cls, std=16)
        cv.rect(x0, top, x1, base, cls, colour)
        if cls == WALL:
            joint = colour * rng.uniform(0.7, 0.85)
            step = max(2.0, cv.height * 0.025)
            y = top + step
            while y < base:
                cv.line((x0, y), (x1, y), None, joint)
                y += step
            return
        dark = colour * rng.uniform(0.55, 0.75)
        step, x = max(3.0, cv.width * 0.02), x0
        while x < x1:
            cv.line((x, top), (min(x + (base - top), x1), base), None, dark)
            x += step
        cv.line((x0, top), (x1, top), None, dark)

    return draw


_BACKGROUND = {BUILDING: _draw_building, VEGETATION: _draw_vegetation,
               WALL: _draw_wall_or_fence(WALL),
               FENCE: _draw_wall_or_fence(FENCE)}


def _draw_background(cv: _Canvas, rng, lay: _Layout, forced) -> None:
    """Segments of building/vegetation/wall/fence (or gaps, -1) along the
    horizon, one for each forced background class."""
    base = lay.horizon + cv.height * rng.uniform(0.0, 0.03)
    segments, x = [], -1.0
    while x < cv.width:
        seg_w = cv.width * rng.uniform(0.07, 0.25)
        segments.append([x, x + seg_w, int(rng.choice(
            (BUILDING, VEGETATION, WALL, FENCE, -1),
            p=(0.45, 0.25, 0.1, 0.1, 0.1)))])
        x += seg_w
    missing = [c for c in (BUILDING, WALL, FENCE, VEGETATION)
               if c in forced and c not in {s[2] for s in segments}]
    slots = rng.permutation(len(segments))
    for k, cls in enumerate(missing):
        segments[slots[k % len(segments)]][2] = cls
    for x0, x1, cls in segments:
        if cls >= 0:
            _BACKGROUND[cls](cv, rng, x0, x1, base, lay)


def _draw_side_barrier(cv: _Canvas, rng, lay: _Layout, side: int) -> None:
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


# Foreground objects, each in a box (x0, y0, x1, y1) with y1 the ground
def _wheels(cv: _Canvas, cls: int, centres, y, r, rng) -> None:
    tyre = _jitter(rng, TYRE, std=5)
    for cx in centres:
        cv.circle(cx, y, r, cls, tyre)


def _rear_tyres(cv: _Canvas, rng, b: _Box, cls: int, top, outer,
                inner) -> None:
    tyre = _jitter(rng, TYRE, std=5)
    cv.rect(b.lx(outer), top, b.lx(inner), b.y1, cls, tyre)
    cv.rect(b.rx(inner), top, b.rx(outer), b.y1, cls, tyre)


def _draw_car(cv: _Canvas, rng, box, side_view: bool) -> None:
    b, (x0, y0, x1, y1) = _Box(box), box
    colour = _class_colour(rng, CAR, std=22, gain=(0.6, 1.4))
    glass = _jitter(rng, DARK_GLASS, std=10)
    body_top, glass_bottom = b.ty(0.45), b.ty(0.45) - 0.05 * b.h
    if side_view:
        r = 0.2 * b.h
        cv.rect(x0, body_top, x1, y1 - 0.6 * r, CAR, colour)
        cv.poly([(b.lx(0.18), body_top), (b.lx(0.3), y0), (b.rx(0.3), y0),
                 (b.rx(0.12), body_top)], CAR, colour)
        cv.poly([(b.lx(0.24), glass_bottom), (b.lx(0.33), b.ty(0.1)),
                 (b.rx(0.33), b.ty(0.1)), (b.rx(0.18), glass_bottom)], None,
                glass)
        _wheels(cv, CAR, (b.lx(0.2), b.rx(0.2)), y1 - r, r, rng)
        return
    cv.rect(x0, body_top, x1, b.by(0.1), CAR, colour)
    cv.poly([(b.lx(0.1), body_top), (b.lx(0.2), y0), (b.rx(0.2), y0),
             (b.rx(0.1), body_top)], CAR, colour)
    cv.poly([(b.lx(0.17), glass_bottom), (b.lx(0.24), b.ty(0.1)),
             (b.rx(0.24), b.ty(0.1)), (b.rx(0.17), glass_bottom)], None, glass)
    _rear_tyres(cv, rng, b, CAR, b.by(0.12), 0.05, 0.2)
    lamp = _jitter(rng, (200, 30, 30), std=15)
    lamp_y = (body_top + 0.08 * b.h, body_top + 0.18 * b.h)
    cv.rect(b.lx(0.03), lamp_y[0], b.lx(0.15), lamp_y[1], None, lamp)
    cv.rect(b.rx(0.15), lamp_y[0], b.rx(0.03), lamp_y[1], None, lamp)
    cv.rect(b.lx(0.4), b.by(0.3), b.rx(0.4), b.by(0.2), None, (210, 210, 200))


def _draw_truck(cv: _Canvas, rng, box, side_view: bool) -> None:
    """A cabin and a cargo box (side), or the cargo box (rear)."""
    b, (x0, y0, x1, y1) = _Box(box), box
    colour = _class_colour(rng, TRUCK, std=20, gain=(0.7, 1.6))
    cargo = _jitter(rng, colour * 0.5 + np.array([90, 90, 95]), std=20)
    r = 0.12 * b.h
    if side_view:
        front_left = rng.random() < 0.5
        cab = (x0, b.lx(0.28)) if front_left else (b.rx(0.28), x1)
        box_x = (b.lx(0.3), x1) if front_left else (x0, b.rx(0.3))
        cv.rect(box_x[0], y0, box_x[1], y1 - r, TRUCK, cargo)
        cv.rect(cab[0], b.ty(0.3), cab[1], y1 - r, TRUCK, colour)
        cv.rect(cab[0] + 0.15 * (cab[1] - cab[0]), b.ty(0.36),
                cab[1] - 0.15 * (cab[1] - cab[0]), b.ty(0.55), None,
                _jitter(rng, DARK_GLASS, std=10))
        _wheels(cv, TRUCK, (b.lx(0.14), b.lx(0.6), b.rx(0.14)), y1 - r, r,
                rng)
        return
    cv.rect(x0, y0, x1, b.by(0.08), TRUCK, cargo)
    cv.rect(b.lx(0.05), b.ty(0.05), b.rx(0.05), b.by(0.2), None, cargo * 0.85)
    cv.rect(x0, b.by(0.2), x1, b.by(0.08), TRUCK, colour)
    _rear_tyres(cv, rng, b, TRUCK, b.by(0.1), 0.05, 0.25)


def _draw_bus(cv: _Canvas, rng, box, side_view: bool) -> None:
    b, (x0, y0, x1, y1) = _Box(box), box
    colour = _class_colour(rng, BUS, std=18, gain=(0.8, 1.6))
    glass = _jitter(rng, GLASS, std=10)
    r = 0.1 * b.h
    cv.rect(x0, y0, x1, y1 - r, BUS, colour)
    cv.rect(b.lx(0.03), b.ty(0.12), b.rx(0.03), b.ty(0.45), None, glass)
    if not side_view:
        _rear_tyres(cv, rng, b, BUS, y1 - r, 0.05, 0.2)
        return
    pane = max(2.0, 0.12 * b.w)
    x = b.lx(0.03) + pane
    while x < b.rx(0.03):
        cv.line((x, b.ty(0.12)), (x, b.ty(0.45)), None, colour)
        x += pane
    _wheels(cv, BUS, (b.lx(0.15), b.rx(0.15)), y1 - r, r, rng)


def _draw_train(cv: _Canvas, rng, box) -> None:
    """A tram/train from the side, with windows and a stripe."""
    b, (x0, y0, x1, y1) = _Box(box), box
    colour = _class_colour(rng, TRAIN, std=16, gain=(0.8, 1.7))
    cv.rect(x0, y0, x1, y1, TRAIN, colour)
    cv.rect(x0, b.ty(0.62), x1, b.ty(0.72), None,
            _jitter(rng, (200, 200, 190), std=15))
    glass = _jitter(rng, GLASS, std=10)
    pane = max(3.0, b.h * 0.5)
    x = x0 + pane * 0.3
    while x + pane * 0.6 < x1:
        cv.rect(x, b.ty(0.15), x + pane * 0.6, b.ty(0.5), None, glass)
        x += pane
    cv.line((x0, y0), (x1, y0), TRAIN, colour * 0.6)


def _draw_person(cv: _Canvas, rng, box, cls: int = PERSON,
                 legs: bool = True) -> None:
    """A pedestrian (or a rider's upper body, ``legs=False``)."""
    b, (x0, y0, x1, y1) = _Box(box), box
    w, cx = b.w, (x0 + x1) / 2
    shirt = _class_colour(rng, cls, std=30, gain=(0.6, 1.2))
    trousers = _jitter(rng, shirt * 0.55, std=12)
    skin = _jitter(rng, (PALETTE[cls][0] * 0.4 + 120, 100, 90), std=12)
    head_r = max(0.5, 0.09 * b.h)
    cv.circle(cx, y0 + head_r, head_r, cls, skin)
    body_bottom = b.ty(0.58 if legs else 0.95)
    cv.poly([(cx - 0.35 * w, y0 + 2 * head_r),
             (cx + 0.35 * w, y0 + 2 * head_r), (cx + 0.28 * w, body_bottom),
             (cx - 0.28 * w, body_bottom)], cls, shirt)
    arm = max(1, int(round(0.12 * w)))
    for s in (-1, 1):
        cv.line((cx + s * 0.35 * w, y0 + 2.2 * head_r),
                (cx + s * 0.45 * w, body_bottom - 0.05 * b.h), cls, shirt, arm)
    if legs:
        stride = rng.uniform(0.0, 0.35) * w
        leg = max(1, int(round(0.22 * w)))
        cv.line((cx - 0.12 * w, body_bottom), (cx - 0.12 * w - stride, y1),
                cls, trousers, leg)
        cv.line((cx + 0.12 * w, body_bottom), (cx + 0.12 * w + stride, y1),
                cls, trousers, leg)


def _draw_bicycle(cv: _Canvas, rng, box) -> None:
    """Two wheel rings and a frame, from the side."""
    b, (x0, y0, x1, y1) = _Box(box), box
    r = min(0.5 * b.h, 0.25 * b.w)
    colour = _class_colour(rng, BICYCLE, std=18)
    tyre = _jitter(rng, (30, 25, 25), std=5)
    thick = max(1, int(round(0.2 * r)))
    rear, front = (x0 + r, y1 - r), (x1 - r, y1 - r)
    for cx, cy in (rear, front):
        cv.circle(cx, cy, r, BICYCLE, tyre, thick)
    seat, bar, crank = (b.lx(0.42), y0), (b.rx(0.3), y0), ((x0 + x1) / 2,
                                                            y1 - r)
    for p0, p1 in ((rear, seat), (seat, crank), (crank, rear), (seat, bar),
                   (bar, front), (bar, crank)):
        cv.line(p0, p1, BICYCLE, colour, thick)


def _draw_motorcycle(cv: _Canvas, rng, box) -> None:
    """Filled wheels, a body and a headlight, from the side."""
    b, (x0, y0, x1, y1) = _Box(box), box
    r = min(0.4 * b.h, 0.22 * b.w)
    colour = _class_colour(rng, MOTORCYCLE, std=20, gain=(0.7, 1.1))
    _wheels(cv, MOTORCYCLE, (x0 + r, x1 - r), y1 - r, r, rng)
    cv.poly([(x0 + 0.5 * r, y1 - 1.2 * r), (b.lx(0.3), b.ty(0.3)),
             (b.rx(0.25), y0), (x1 - 0.5 * r, y1 - 1.4 * r),
             ((x0 + x1) / 2, y1 - 0.6 * r)], MOTORCYCLE, colour)
    cv.circle(b.rx(0.22), b.ty(0.25), max(0.5, 0.12 * b.h), None,
              _jitter(rng, (230, 220, 170), std=10))


def _draw_rider(cv: _Canvas, rng, box, vehicle: int) -> None:
    """A rider on a bicycle or motorcycle (the box covers both)."""
    b, (x0, y0, x1, y1) = _Box(box), box
    bike_top = b.ty(0.5)
    draw = _draw_bicycle if vehicle == BICYCLE else _draw_motorcycle
    draw(cv, rng, (x0, bike_top, x1, y1))
    body_w, cx = 0.3 * b.w, b.lx(0.45)
    _draw_person(cv, rng, (cx - body_w / 2, y0, cx + body_w / 2,
                           bike_top + 0.1 * b.h), RIDER, legs=False)
    leg = max(1, int(round(0.07 * b.w)))
    cv.line((cx, bike_top + 0.05 * b.h), ((x0 + x1) / 2, b.by(0.2)), RIDER,
            _jitter(rng, (90, 20, 20), std=15), leg)


def _draw_pole(cv: _Canvas, rng, box, attachment: Optional[int]) -> None:
    """A pole with a traffic sign (SIGN), a light (LIGHT) or nothing."""
    b, (x0, y0, x1, y1) = _Box(box), box
    cx, w = (x0 + x1) / 2, b.w
    thick = max(0.5, 0.1 * w)
    cv.rect(cx - thick / 2, b.ty(0.1), cx + thick / 2, y1, POLE,
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
            lamp = np.asarray(lamps[k], np.float64) * (1.0 if k == lit else
                                                       0.3)
            cv.circle(cx, y0 + (k + 0.5) * lh / 3, lw * 0.5, None, lamp)


# Object placement
VEHICLE_HEIGHT = {CAR: 0.33, TRUCK: 0.55, BUS: 0.6, TRAIN: 0.7}
VEHICLE_ASPECT = {CAR: (2.4, 1.6), TRUCK: (2.6, 1.0), BUS: (2.8, 1.1),
                  TRAIN: (6.0, 6.0)}  # (side view, rear view)


def _object_box(lay: _Layout, cls: int, x, y, side_view: bool = True,
                rng=None) -> Tuple[float, float, float, float]:
    """Box of an object of class ``cls`` standing at ``(x, y)``; riders,
    bicycles and motorcycles share a rider's box, poles draw a height."""
    s = lay.depth(y)
    if cls in (POLE, SIGN, LIGHT):
        height = s * lay.height * rng.uniform(0.9, 1.5)
        half = max(2.0, s * lay.width * 0.06) / 2
    elif cls in VEHICLE_HEIGHT:
        height = VEHICLE_HEIGHT[cls] * (s * lay.height)
        half = height * VEHICLE_ASPECT[cls][0 if side_view else 1] / 2
    else:
        factor, aspect = (0.42, 0.18) if cls == PERSON else (0.48, 0.45)
        height = factor * s * lay.height
        half = aspect * height
    return (x - half, y - height, x + half, y)


def _vehicle_drawer(cls: int, box, side_view: bool) -> Callable:
    """``fn(canvas, rng)`` drawing a car, truck or bus and its shadow."""
    drawer = {CAR: _draw_car, TRUCK: _draw_truck, BUS: _draw_bus}[cls]

    def draw(cv: _Canvas, rng) -> None:
        x0, _, x1, y1 = box
        w = x1 - x0
        depth = max(1.0, 0.08 * w)
        cv.shade([(x0 - 0.05 * w, y1 - depth), (x1 + 0.1 * w, y1 - depth),
                  (x1 + 0.15 * w, y1 + depth), (x0, y1 + depth)],
                 rng.uniform(0.45, 0.7))
        drawer(cv, rng, box, side_view)

    return draw


def _plan_objects(rng, lay: _Layout) -> List[Tuple[float, Callable]]:
    """Random foreground objects as ``(ground_y, fn(canvas, rng))``; the
    caller draws them from far (small y) to near."""
    items = []
    for _ in range(int(rng.integers(1, 5))):  # poles with signs/lights
        side = int(rng.integers(0, 2))
        y = lay.ground_row(rng, 0.15, 0.9)
        x = lay.walk_point(rng, y, side)
        roll = rng.random()
        att = SIGN if roll < 0.5 else LIGHT if roll < 0.8 else None
        box = _object_box(lay, POLE, x, y, rng=rng)
        items.append((y, lambda cv, r, b=box, a=att: _draw_pole(cv, r, b, a)))
    for _ in range(int(rng.integers(0, 6))):  # vehicles on the road
        cls = int(rng.choice((CAR, TRUCK, BUS), p=(0.7, 0.15, 0.15)))
        y = lay.ground_row(rng, 0.12, 1.0)
        x = rng.uniform(*lay.road_edges(y))
        side_view = bool(rng.random() < 0.4)
        box = _object_box(lay, cls, x, y, side_view)
        items.append((y, _vehicle_drawer(cls, box, side_view)))
    if rng.random() < 0.12:  # an occasional train/tram
        y = lay.ground_row(rng, 0.1, 0.35)
        box = _object_box(lay, TRAIN, rng.uniform(0.2, 0.8) * lay.width, y)
        items.append((y, lambda cv, r, b=box: _draw_train(cv, r, b)))
    for _ in range(int(rng.integers(0, 6))):  # pedestrians
        y = lay.ground_row(rng, 0.1, 1.0)
        if rng.random() < 0.15:
            x = rng.uniform(*lay.road_edges(y))
        else:
            x = lay.walk_point(rng, y, int(rng.integers(0, 2)))
        box = _object_box(lay, PERSON, x, y)
        items.append((y, lambda cv, r, b=box: _draw_person(cv, r, b)))
    for _ in range(int(rng.choice((0, 1, 2), p=(0.4, 0.4, 0.2)))):  # riders
        y = lay.ground_row(rng, 0.15, 1.0)
        road_l, road_r = lay.road_edges(y)
        x = road_l + rng.uniform(0.05, 0.3) * (road_r - road_l)
        if rng.random() < 0.5:
            x = road_r - (x - road_l)
        vehicle = BICYCLE if rng.random() < 0.55 else MOTORCYCLE
        box = _object_box(lay, RIDER, x, y)
        items.append(
            (y, lambda cv, r, b=box, v=vehicle: _draw_rider(cv, r, b, v)))
    if rng.random() < 0.3:  # a parked bicycle or motorcycle
        y = lay.ground_row(rng, 0.2, 1.0)
        x = lay.walk_point(rng, y, int(rng.integers(0, 2)))
        x0, y0, x1, _ = _object_box(lay, RIDER, x, y)
        box = (x0, y0 + 0.5 * (y - y0), x1, y)
        draw = _draw_bicycle if rng.random() < 0.6 else _draw_motorcycle
        items.append((y, lambda cv, r, b=box, d=draw: d(cv, r, b)))
    return items


def _draw_ego_vehicle(cv: _Canvas, rng, lay: _Layout) -> None:
    """The ego vehicle's bonnet at the bottom, labelled ignore (255)."""
    if not lay.has_ego:
        return
    curve = (cv.height - lay.ego_top) * rng.uniform(0.3, 0.6)
    xs = np.linspace(-1.0, cv.width, 17)
    ys = lay.ego_top + curve * ((xs - cv.width / 2) / (cv.width / 2))**2
    colour = _jitter(rng, (40, 40, 46), std=6, gain=(0.7, 1.3))
    cv.poly(list(zip(xs, ys)) + [(cv.width, cv.height), (-1.0, cv.height)],
            IGNORE_INDEX, colour)
    cv.poly([(x, y + 1.0) for x, y in zip(xs, ys)] +
            [(x, y + 2.0) for x, y in zip(xs[::-1], ys[::-1])], None,
            colour + 45)


def _draw_forced(cv: _Canvas, rng, lay: _Layout, forced) -> None:
    """One object per forced class, each in its own vertical slot; a class
    still not visible afterwards gets a patch in its slot."""
    forced = sorted(set(forced))
    slot_w = cv.width / max(len(forced), 1)
    slots = {cls: (k * slot_w, (k + 1) * slot_w)
             for k, cls in enumerate(forced)}
    for cls in forced:
        y = lay.horizon + rng.uniform(0.6, 0.95) * (
            lay.ego_top - 1 - lay.horizon)
        _draw_forced_object(cv, rng, lay, cls, slots[cls], y)
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


def _draw_forced_object(cv: _Canvas, rng, lay: _Layout, cls: int,
                        slot: Tuple[float, float], y: float) -> None:
    """A foreground object of class ``cls`` narrowed to fit ``slot``
    (background classes are forced through the layout)."""
    if cls not in (POLE, SIGN, LIGHT, PERSON, RIDER, BICYCLE, MOTORCYCLE,
                   *VEHICLE_HEIGHT):
        return
    cx = (slot[0] + slot[1]) / 2
    box = _object_box(lay, cls, cx, y, cls == TRAIN, rng)
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


def _finish_image(cv: _Canvas, rng) -> np.ndarray:
    """Texture, illumination, blur and sensor noise: the uint8 RGB image."""
    h, w = cv.height, cv.width
    amp = np.full(256, 0.05, np.float32)
    for cls, value in TEXTURE.items():
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
    img = img * (1.0 + gy * ys + gx * xs)[..., None] * gain.astype(np.float32)
    img = cv2.GaussianBlur(img, (3, 3), sigmaX=rng.uniform(0.3, 0.9))
    img = img + rng.normal(0.0, rng.uniform(2.0, 7.0), img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def render_sample(seed: int, split: str, index: int, height: int, width: int,
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
    key = [int(seed), SPLIT_CODES[split], int(index)]
    scene_rng, forced_rng, finish_rng = (
        np.random.default_rng(key + [k]) for k in range(3))
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
            _draw_tree(cv, scene_rng, lay.walk_edges(y)[side], y,
                       lay.depth(y) * height * scene_rng.uniform(0.15, 0.3))
    for _, draw in sorted(_plan_objects(scene_rng, lay), key=lambda i: i[0]):
        draw(cv, scene_rng)
    _draw_ego_vehicle(cv, scene_rng, lay)
    _draw_forced(cv, forced_rng, lay, forced)
    return _finish_image(cv, finish_rng), cv.label
