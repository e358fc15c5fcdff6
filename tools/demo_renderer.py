# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The demo data set's street scenes (numpy and OpenCV only): :class:`Scene`
and the things of a street, composed and finished by ``make_demo_data.py``."""
from typing import Callable, Iterator, Sequence, Tuple

import cv2
import numpy as np

IGNORE_INDEX = 255
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
 BICYCLE) = range(len(CLASSES))
VEHICLE_HEIGHT = {CAR: 0.33, TRUCK: 0.55, BUS: 0.6, TRAIN: 0.7}
VEHICLE_ASPECT = {CAR: (2.4, 1.6), TRUCK: (2.6, 1.0), BUS: (2.8, 1.1),
                  TRAIN: (6.0, 6.0)}  # (side view, rear view)
POLES = (POLE, SIGN, LIGHT)
SIGN_CORNERS = (((-1, -0.8), (1, -0.8), (1, 0.8), (-1, 0.8)),  # half sizes
                ((-1, -1), (1, -1), (0, 1)),
                ((0, -1), (1, 0), (0, 1), (-1, 0)))
TYRE, GLASS, DARK_GLASS = (25, 25, 28), (40, 50, 62), (45, 55, 70)
LAMPS = np.array([(255, 40, 30), (255, 200, 40), (60, 255, 120)], np.float64)


def _ipt(point: Sequence[float]) -> Tuple[int, ...]:
    return tuple(int(round(v)) for v in point)


def _as_points(points) -> np.ndarray:
    """Round ``(x, y)`` points to the int32 ``(N, 1, 2)`` array of cv2."""
    pts = np.round(np.asarray(points, dtype=np.float64))
    return pts.astype(np.int32).reshape(-1, 1, 2)


def _steps(start: float, step: float, stop: float,
           size: float = 0.0) -> Iterator[float]:
    """``start``, ``start + step``, ... while ``x + size < stop``."""
    while start + size < stop:
        yield start
        start += step


class _Box:
    """A box ``(x0, y0, x1, y1)``; x/y at fractions of ``w``/``h`` in from
    its left, right, top and bottom."""

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


class Scene:
    """A label map (the 19 Cityscapes train ids) and a float RGB image drawn
    on together (``cls=None``: the image only), a random perspective layout
    (road, sidewalks, maybe the ego bonnet) and ``rng``, the drawing's."""

    def __init__(self, rng: np.random.Generator, height: int,
                 width: int) -> None:
        self.rng, self.height, self.width = rng, height, width
        self.label = np.full((height, width), SKY, dtype=np.uint8)
        self.img = np.zeros((height, width, 3), dtype=np.float32)
        self.horizon = height * rng.uniform(0.34, 0.5)
        vx = width * rng.uniform(0.38, 0.62)  # the vanishing point
        road = width * rng.uniform(0.01, 0.03)
        centre = width * rng.uniform(0.4, 0.6)
        half = width * rng.uniform(0.28, 0.42)
        walk = width * rng.uniform(0.01, 0.03)
        walk_l, walk_r = (width * rng.uniform(0.12, 0.3) for _ in 'lr')
        # x of the left, right edges at the horizon (top) and the bottom
        self.road_top = (vx - road, vx + road)
        self.walk_top = (vx - road - walk, vx + road + walk)
        self.road_bottom = (centre - half, centre + half)
        self.walk_bottom = (centre - half - walk_l, centre + half + walk_r)
        self.has_ego = bool(rng.random() < 0.5)
        self.ego_top = height * (1.0 - rng.uniform(0.06, 0.12)) \
            if self.has_ego else height

    # colours, primitives and geometry
    def jitter(self, base, std: float = 14.0,
               gain: Tuple[float, float] = (0.85, 1.15)) -> np.ndarray:
        """An RGB colour times a random gain plus per-channel noise."""
        colour = np.asarray(base, np.float64) * self.rng.uniform(*gain)
        colour = colour + self.rng.normal(0.0, std, 3)
        return np.clip(colour, 0.0, 255.0)

    def colour(self, cls: int, **kwargs) -> np.ndarray:
        return self.jitter(PALETTE[cls], **kwargs)

    def _draw(self, fn: Callable, cls, colour, *args, **kwargs) -> None:
        kwargs['lineType'] = cv2.LINE_8
        if cls is not None:
            fn(self.label, *args, color=int(cls), **kwargs)
        fn(self.img, *args, color=tuple(float(c) for c in colour), **kwargs)

    def poly(self, points, cls, colour) -> None:
        self._draw(cv2.fillPoly, cls, colour, [_as_points(points)])

    def rect(self, x0, y0, x1, y1, cls, colour) -> None:
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], cls, colour)

    def circle(self, cx, cy, r, cls, colour, thickness: int = -1) -> None:
        self._draw(cv2.circle, cls, colour, _ipt((cx, cy)),
                   max(0, int(round(r))), thickness=thickness)

    def line(self, p0, p1, cls, colour, thickness: int = 1) -> None:
        self._draw(cv2.line, cls, colour, _ipt(p0), _ipt(p1),
                   thickness=max(1, int(thickness)))

    def ellipse(self, cx, cy, ax, ay, cls, colour) -> None:
        axes = (max(0, int(round(ax))), max(0, int(round(ay))))
        self._draw(cv2.ellipse, cls, colour, _ipt((cx, cy)), axes, 0, 0, 360,
                   thickness=-1)

    def shade(self, points, factor: float) -> None:
        """Darken (or brighten) the image inside a polygon (a shadow)."""
        mask = np.zeros((self.height, self.width), np.uint8)
        cv2.fillPoly(mask, [_as_points(points)], 1, cv2.LINE_8)
        self.img[mask > 0] *= np.float32(factor)

    def depth(self, y: float) -> float:
        """Perspective scale of row y: 0 at the horizon, 1 at the bottom."""
        t = (y - self.horizon) / (self.height - self.horizon)
        return float(min(max(t, 0.0), 1.0))

    def road_edges(self, y: float) -> Tuple[float, ...]:
        return self._edges(y, self.road_top, self.road_bottom)

    def walk_edges(self, y: float) -> Tuple[float, ...]:
        """Outer x of the left and right sidewalks at row ``y``."""
        return self._edges(y, self.walk_top, self.walk_bottom)

    def _edges(self, y: float, top, bottom) -> Tuple[float, ...]:
        t = self.depth(y)
        return tuple(a + t * (b - a) for a, b in zip(top, bottom))

    def ground_row(self, lo: float, hi: float) -> float:
        """A random row between the horizon and the ego vehicle."""
        return self.horizon + self.rng.uniform(lo, hi) * (
            self.ego_top - self.horizon)

    def walk_point(self, y: float, side: int) -> float:
        """A random x on the left (0) or right (1) sidewalk at row y."""
        a, b = self.walk_edges(y)[side], self.road_edges(y)[side]
        a, b = (b, a) if side else (a, b)  # from the left
        return a + self.rng.uniform(0.15, 0.85) * (b - a)

    def building(self, x0, x1, base) -> None:
        """A facade with a grid of windows and, sometimes, a gable roof."""
        rng = self.rng
        top = self.horizon - self.height * rng.uniform(0.1, 0.5)
        colour = self.colour(BUILDING, std=22, gain=(0.7, 1.35))
        self.rect(x0, top, x1, base, BUILDING, colour)
        if rng.random() < 0.3:
            peak = top - (x1 - x0) * rng.uniform(0.15, 0.35)
            self.poly([(x0, top), ((x0 + x1) / 2, peak), (x1, top)],
                      BUILDING, colour * rng.uniform(0.6, 0.9))
        cell = max(3.0, (x1 - x0) / rng.integers(3, 7))
        cell_h = cell * rng.uniform(0.8, 1.4)
        if x1 - x0 < 2 * cell or base - top < 2 * cell_h:
            return
        window = self.jitter((60, 75, 95), std=12) if rng.random() < 0.5 \
            else colour * rng.uniform(0.35, 0.6)
        for y in _steps(top + cell_h * 0.4, cell_h, base - cell_h * 0.3,
                        cell_h * 0.5):
            for x in _steps(x0 + cell * 0.3, cell, x1, cell * 0.5):
                self.rect(x, y, x + cell * 0.5, y + cell_h * 0.5, None,
                          window)

    def tree(self, cx, base, crown) -> None:
        """A trunk and a crown of overlapping circles (all vegetation)."""
        trunk = self.jitter((95, 75, 55), std=8)
        cy = base - crown * self.rng.uniform(1.3, 2.2)
        self.rect(cx - max(0.5, crown * 0.12), cy,
                  cx + max(0.5, crown * 0.12), base, VEGETATION, trunk)
        leaves = self.colour(VEGETATION, std=14)
        for _ in range(int(self.rng.integers(1, 4))):
            dx, dy = self.rng.normal(0.0, crown * 0.4, 2)
            self.circle(cx + dx, cy + dy, crown * self.rng.uniform(0.6, 1.0),
                        VEGETATION, leaves * self.rng.uniform(0.85, 1.15))

    def vegetation(self, x0, x1, base) -> None:
        """A group of trees behind a low hedge."""
        for _ in range(max(1, int((x1 - x0) / (self.width * 0.08)))):
            crown = self.height * self.rng.uniform(0.05, 0.12)
            self.tree(self.rng.uniform(x0, x1), base, crown)
        hedge = base - self.height * self.rng.uniform(0.02, 0.06)
        self.rect(x0, hedge, x1, base, VEGETATION,
                  self.colour(VEGETATION, std=14, gain=(0.7, 1.0)))

    def wall_or_fence(self, cls: int, x0, x1, base) -> None:
        """A low wall with joints, or a fence with a diagonal lattice."""
        top = base - self.height * self.rng.uniform(0.04, 0.12)
        colour = self.colour(cls, std=16)
        self.rect(x0, top, x1, base, cls, colour)
        if cls == WALL:
            joint = colour * self.rng.uniform(0.7, 0.85)
            step = max(2.0, self.height * 0.025)
            for y in _steps(top + step, step, base):
                self.line((x0, y), (x1, y), None, joint)
            return
        dark = colour * self.rng.uniform(0.55, 0.75)
        for x in _steps(x0, max(3.0, self.width * 0.02), x1):
            self.line((x, top), (min(x + (base - top), x1), base), None, dark)
        self.line((x0, top), (x1, top), None, dark)

    def side_barrier(self, side: int) -> None:
        """A wall, fence or hedge along the outer edge of a sidewalk."""
        cls = int(self.rng.choice((WALL, FENCE, VEGETATION)))
        y0, y1 = self.horizon + 1.0, self.ground_row(0.3, 0.8)
        height = self.height * self.rng.uniform(0.15, 0.35)
        x0, x1 = (self.walk_edges(y)[side] for y in (y0, y1))
        top0 = y0 - height * max(self.depth(y0), 0.02)
        top1 = y1 - height * self.depth(y1)
        colour = self.colour(cls, std=16)
        self.poly([(x0, y0), (x1, y1), (x1, top1), (x0, top0)], cls, colour)
        dark = colour * self.rng.uniform(0.55, 0.8)
        if cls == VEGETATION:
            return
        for u in ((k / 8.0)**1.5 for k in range(1, 8)):  # posts
            x = x0 + u * (x1 - x0)
            self.line((x, y0 + u * (y1 - y0)), (x, top0 + u * (top1 - top0)),
                      None, dark)

    # foreground objects, each in a box (x0, y0, x1, y1), y1 on the ground
    def wheels(self, cls: int, centres, y, r) -> None:
        tyre = self.jitter(TYRE, std=5)
        for cx in centres:
            self.circle(cx, y, r, cls, tyre)

    def rear_tyres(self, b: _Box, cls: int, top, outer, inner) -> None:
        tyre = self.jitter(TYRE, std=5)
        self.rect(b.lx(outer), top, b.lx(inner), b.y1, cls, tyre)
        self.rect(b.rx(inner), top, b.rx(outer), b.y1, cls, tyre)

    def car(self, box, side_view: bool) -> None:
        """Body, roof and windows, then wheels (side) or tyres and lamps."""
        b, (x0, y0, x1, y1) = _Box(box), box
        colour = self.colour(CAR, std=22, gain=(0.6, 1.4))
        glass = self.jitter(DARK_GLASS, std=10)
        top, glass_bottom, r = b.ty(0.45), b.ty(0.45) - 0.05 * b.h, 0.2 * b.h
        self.rect(x0, top, x1, y1 - 0.6 * r if side_view else b.by(0.1), CAR,
                  colour)
        # roof and windows: x in from the sides at the bottom, top, bottom
        (a, c, d), (e, f, g) = ((0.18, 0.3, 0.12), (0.24, 0.33, 0.18)) \
            if side_view else ((0.1, 0.2, 0.1), (0.17, 0.24, 0.17))
        self.poly([(b.lx(a), top), (b.lx(c), y0), (b.rx(c), y0),
                   (b.rx(d), top)], CAR, colour)
        self.poly([(b.lx(e), glass_bottom), (b.lx(f), b.ty(0.1)),
                   (b.rx(f), b.ty(0.1)), (b.rx(g), glass_bottom)], None,
                  glass)
        if side_view:
            self.wheels(CAR, (b.lx(0.2), b.rx(0.2)), y1 - r, r)
            return
        self.rear_tyres(b, CAR, b.by(0.12), 0.05, 0.2)
        lamp = self.jitter((200, 30, 30), std=15)
        lamp_y = (top + 0.08 * b.h, top + 0.18 * b.h)
        self.rect(b.lx(0.03), lamp_y[0], b.lx(0.15), lamp_y[1], None, lamp)
        self.rect(b.rx(0.15), lamp_y[0], b.rx(0.03), lamp_y[1], None, lamp)
        self.rect(b.lx(0.4), b.by(0.3), b.rx(0.4), b.by(0.2), None,
                  (210, 210, 200))

    def truck(self, box, side_view: bool) -> None:
        """A cabin and a cargo box (side view), or the cargo box (rear)."""
        b, (x0, y0, x1, y1) = _Box(box), box
        colour = self.colour(TRUCK, std=20, gain=(0.7, 1.6))
        cargo = self.jitter(colour * 0.5 + np.array([90, 90, 95]), std=20)
        r = 0.12 * b.h
        if not side_view:
            self.rect(x0, y0, x1, b.by(0.08), TRUCK, cargo)
            self.rect(b.lx(0.05), b.ty(0.05), b.rx(0.05), b.by(0.2), None,
                      cargo * 0.85)
            self.rect(x0, b.by(0.2), x1, b.by(0.08), TRUCK, colour)
            self.rear_tyres(b, TRUCK, b.by(0.1), 0.05, 0.25)
            return
        cab, box_x = ((x0, b.lx(0.28)), (b.lx(0.3), x1)) \
            if self.rng.random() < 0.5 else ((b.rx(0.28), x1), (x0, b.rx(0.3)))
        self.rect(box_x[0], y0, box_x[1], y1 - r, TRUCK, cargo)
        self.rect(cab[0], b.ty(0.3), cab[1], y1 - r, TRUCK, colour)
        self.rect(cab[0] + 0.15 * (cab[1] - cab[0]), b.ty(0.36),
                  cab[1] - 0.15 * (cab[1] - cab[0]), b.ty(0.55), None,
                  self.jitter(DARK_GLASS, std=10))
        self.wheels(TRUCK, (b.lx(0.14), b.lx(0.6), b.rx(0.14)), y1 - r, r)

    def bus(self, box, side_view: bool) -> None:
        b, (x0, y0, x1, y1) = _Box(box), box
        colour = self.colour(BUS, std=18, gain=(0.8, 1.6))
        glass = self.jitter(GLASS, std=10)
        r = 0.1 * b.h
        self.rect(x0, y0, x1, y1 - r, BUS, colour)
        self.rect(b.lx(0.03), b.ty(0.12), b.rx(0.03), b.ty(0.45), None, glass)
        if not side_view:
            self.rear_tyres(b, BUS, y1 - r, 0.05, 0.2)
            return
        pane = max(2.0, 0.12 * b.w)
        for x in _steps(b.lx(0.03) + pane, pane, b.rx(0.03)):
            self.line((x, b.ty(0.12)), (x, b.ty(0.45)), None, colour)
        self.wheels(BUS, (b.lx(0.15), b.rx(0.15)), y1 - r, r)

    def train(self, box) -> None:
        """A tram/train from the side, with windows and a stripe."""
        b, (x0, y0, x1, y1) = _Box(box), box
        colour = self.colour(TRAIN, std=16, gain=(0.8, 1.7))
        self.rect(x0, y0, x1, y1, TRAIN, colour)
        self.rect(x0, b.ty(0.62), x1, b.ty(0.72), None,
                  self.jitter((200, 200, 190), std=15))
        glass = self.jitter(GLASS, std=10)
        pane = max(3.0, b.h * 0.5)
        for x in _steps(x0 + pane * 0.3, pane, x1, pane * 0.6):
            self.rect(x, b.ty(0.15), x + pane * 0.6, b.ty(0.5), None, glass)
        self.line((x0, y0), (x1, y0), TRAIN, colour * 0.6)

    def person(self, box, cls: int = PERSON, legs: bool = True) -> None:
        """A pedestrian (or a rider's upper body, ``legs=False``)."""
        b, (x0, y0, x1, y1) = _Box(box), box
        w, cx = b.w, (x0 + x1) / 2
        shirt = self.colour(cls, std=30, gain=(0.6, 1.2))
        trousers = self.jitter(shirt * 0.55, std=12)
        skin = self.jitter((PALETTE[cls][0] * 0.4 + 120, 100, 90), std=12)
        head_r = max(0.5, 0.09 * b.h)
        self.circle(cx, y0 + head_r, head_r, cls, skin)
        bottom = b.ty(0.58 if legs else 0.95)
        self.poly([(cx - 0.35 * w, y0 + 2 * head_r),
                   (cx + 0.35 * w, y0 + 2 * head_r), (cx + 0.28 * w, bottom),
                   (cx - 0.28 * w, bottom)], cls, shirt)
        arm = max(1, int(round(0.12 * w)))
        for s in (-1, 1):
            self.line((cx + s * 0.35 * w, y0 + 2.2 * head_r),
                      (cx + s * 0.45 * w, bottom - 0.05 * b.h), cls, shirt,
                      arm)
        if legs:
            stride = self.rng.uniform(0.0, 0.35) * w
            leg = max(1, int(round(0.22 * w)))
            for s in (-1, 1):
                self.line((cx + s * 0.12 * w, bottom),
                          (cx + s * 0.12 * w + s * stride, y1), cls, trousers,
                          leg)

    def bicycle(self, box) -> None:
        """Two wheel rings and a frame, from the side."""
        b, (x0, y0, x1, y1) = _Box(box), box
        r = min(0.5 * b.h, 0.25 * b.w)
        colour = self.colour(BICYCLE, std=18)
        tyre = self.jitter((30, 25, 25), std=5)
        thick = max(1, int(round(0.2 * r)))
        rear, front = (x0 + r, y1 - r), (x1 - r, y1 - r)
        for cx, cy in (rear, front):
            self.circle(cx, cy, r, BICYCLE, tyre, thick)
        seat, bar = (b.lx(0.42), y0), (b.rx(0.3), y0)
        crank = ((x0 + x1) / 2, y1 - r)
        for p0, p1 in ((rear, seat), (seat, crank), (crank, rear),
                       (seat, bar), (bar, front), (bar, crank)):
            self.line(p0, p1, BICYCLE, colour, thick)

    def motorcycle(self, box) -> None:
        """Filled wheels, a body and a headlight, from the side."""
        b, (x0, y0, x1, y1) = _Box(box), box
        r = min(0.4 * b.h, 0.22 * b.w)
        colour = self.colour(MOTORCYCLE, std=20, gain=(0.7, 1.1))
        self.wheels(MOTORCYCLE, (x0 + r, x1 - r), y1 - r, r)
        self.poly([(x0 + 0.5 * r, y1 - 1.2 * r), (b.lx(0.3), b.ty(0.3)),
                   (b.rx(0.25), y0), (x1 - 0.5 * r, y1 - 1.4 * r),
                   ((x0 + x1) / 2, y1 - 0.6 * r)], MOTORCYCLE, colour)
        self.circle(b.rx(0.22), b.ty(0.25), max(0.5, 0.12 * b.h), None,
                    self.jitter((230, 220, 170), std=10))

    def rider(self, box, vehicle: int) -> None:
        """A rider on a bicycle or motorcycle (the box covers both)."""
        b, (x0, y0, x1, y1) = _Box(box), box
        top = b.ty(0.5)
        draw = self.bicycle if vehicle == BICYCLE else self.motorcycle
        draw((x0, top, x1, y1))
        body_w, cx = 0.3 * b.w, b.lx(0.45)
        self.person((cx - body_w / 2, y0, cx + body_w / 2, top + 0.1 * b.h),
                    RIDER, legs=False)
        leg = max(1, int(round(0.07 * b.w)))
        self.line((cx, top + 0.05 * b.h), ((x0 + x1) / 2, b.by(0.2)), RIDER,
                  self.jitter((90, 20, 20), std=15), leg)

    def pole(self, box, attachment) -> None:
        """A pole with a traffic sign (SIGN), a light (LIGHT) or nothing."""
        b, (x0, y0, x1, y1) = _Box(box), box
        cx, w = (x0 + x1) / 2, b.w
        thick = max(0.5, 0.1 * w)
        self.rect(cx - thick / 2, b.ty(0.1), cx + thick / 2, y1, POLE,
                  self.colour(POLE, std=18, gain=(0.7, 1.2)))
        if attachment == SIGN:
            size, sy = 0.45 * w, y0 + 0.45 * w
            colour = self.colour(SIGN, std=18, gain=(0.75, 1.1))
            shape = int(self.rng.integers(0, 4))
            if shape == 0:  # round, with a ring
                self.circle(cx, sy, size, SIGN, colour)
                self.circle(cx, sy, size * 0.6, None, colour * 0.75)
            else:  # a rectangle, a triangle or a diamond
                self.poly([(cx + u * size, sy + v * size)
                           for u, v in SIGN_CORNERS[shape - 1]], SIGN, colour)
        elif attachment == LIGHT:
            lw, lh = 0.3 * w, 2.6 * (0.3 * w)
            colour = self.colour(LIGHT, std=18, gain=(0.6, 1.05))
            self.rect(cx - lw, y0, cx + lw, y0 + lh, LIGHT, colour)
            lit = int(self.rng.integers(0, 3))
            for k, lamp in enumerate(LAMPS):
                self.circle(cx, y0 + (k + 0.5) * lh / 3, lw * 0.5, None,
                            lamp * (1.0 if k == lit else 0.3))

    def vehicle(self, cls: int, box, side_view: bool) -> None:
        """A car, truck or bus and its shadow."""
        x0, _, x1, y1 = box
        w = x1 - x0
        depth = max(1.0, 0.08 * w)
        self.shade([(x0 - 0.05 * w, y1 - depth), (x1 + 0.1 * w, y1 - depth),
                    (x1 + 0.15 * w, y1 + depth), (x0, y1 + depth)],
                   self.rng.uniform(0.45, 0.7))
        {CAR: self.car, TRUCK: self.truck, BUS: self.bus}[cls](box, side_view)

    # placing the objects
    def object_box(self, cls: int, x, y, side_view: bool = True):
        """Box of a ``cls`` object standing at ``(x, y)`` (a rider's box for
        bicycles and motorcycles too; a pole's height is random)."""
        s = self.depth(y)
        if cls in POLES:
            height = s * self.height * self.rng.uniform(0.9, 1.5)
            half = max(2.0, s * self.width * 0.06) / 2
        elif cls in VEHICLE_HEIGHT:
            height = VEHICLE_HEIGHT[cls] * (s * self.height)
            half = height * VEHICLE_ASPECT[cls][0 if side_view else 1] / 2
        else:
            factor, aspect = (0.42, 0.18) if cls == PERSON else (0.48, 0.45)
            height = factor * s * self.height
            half = aspect * height
        return (x - half, y - height, x + half, y)
