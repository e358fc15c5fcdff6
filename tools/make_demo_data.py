# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Generate the deterministic synthetic Cityscapes-format demo data set:
street scenes (:func:`render_sample`) as ``OUT/leftImg8bit/{train,val}/
democity/democity_{index:06d}_000019_leftImg8bit.png``, their train ids (255
on the ego vehicle) as ``OUT/gtFine/.../*_gtFine_labelTrainIds.png``, every
class in each split, byte-identical per arguments; kept while
``demo_manifest.json`` matches and every file is there (``--force``)."""
import argparse
import json
import os
import os.path as osp
import sys
import time
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

sys.path.append(osp.dirname(osp.abspath(__file__)))  # demo_renderer.py
from demo_renderer import (BICYCLE, BUILDING, BUS, CAR, CLASSES,  # noqa: E402
                           FENCE, IGNORE_INDEX, LIGHT, MOTORCYCLE, PALETTE,
                           PERSON, POLE, POLES, RIDER, ROAD, SIDEWALK, SIGN,
                           SKY, TERRAIN, TRAIN, TRUCK, VEGETATION,
                           VEHICLE_HEIGHT, WALL, Scene)

FORMAT_VERSION = 1  # bump when the files change: old data sets regenerate
MANIFEST_NAME = 'demo_manifest.json'
CITY = 'democity'
SPLITS = ('train', 'val')
FOLDERS = (('leftImg8bit', '_leftImg8bit.png'),
           ('gtFine', '_gtFine_labelTrainIds.png'))
MIN_SIZE = 32
# amplitude of the multiplicative texture per class (default 0.05)
TEXTURE = {ROAD: 0.07, SIDEWALK: 0.06, BUILDING: 0.08, WALL: 0.08,
           FENCE: 0.06, VEGETATION: 0.3, TERRAIN: 0.2, SKY: 0.015}


class StreetScene(Scene):
    """A :class:`Scene` composed as a street and finished (:meth:`finish`)."""

    def sky(self) -> None:
        rng, yh = self.rng, self.horizon
        top = self.jitter(PALETTE[SKY], std=10, gain=(0.7, 0.95))
        bottom = np.clip(top * rng.uniform(1.1, 1.35) + rng.uniform(15, 45),
                         0, 255)
        t = np.linspace(0.0, 1.0, self.height)[:, None]
        t = np.clip(t * self.height / max(yh, 1.0), 0.0, 1.0)
        self.img[:] = (top * (1 - t) + bottom * t)[:, None, :]
        for _ in range(int(rng.integers(0, 4))):  # clouds
            ax = self.width * rng.uniform(0.05, 0.15)
            ay = yh * rng.uniform(0.05, 0.12)
            cx = rng.uniform(0, self.width)
            cy = rng.uniform(0, max(yh - 2 * ay, 1.0))
            mix = rng.uniform(0.3, 0.6)
            self.ellipse(cx, cy, ax, ay, SKY,
                         top * (1 - mix) + np.full(3, 235.0) * mix)

    def ground(self) -> None:
        """Terrain, sidewalks with tiles, the road, curbs and markings."""
        h, w, yh, rng = self.height, self.width, self.horizon, self.rng
        self.rect(-1, yh, w, h, TERRAIN, self.colour(TERRAIN, std=16))
        (road_l, road_r), (walk_l, walk_r) = self.road_bottom, self.walk_bottom
        (top_l, top_r), (out_l, out_r) = self.road_top, self.walk_top
        walk = self.colour(SIDEWALK, std=16)
        self.poly([(out_l, yh), (top_l, yh), (road_l, h), (walk_l, h)],
                  SIDEWALK, walk)
        self.poly([(top_r, yh), (out_r, yh), (walk_r, h), (road_r, h)],
                  SIDEWALK, walk * rng.uniform(0.9, 1.1))
        tile = walk * rng.uniform(0.7, 0.85)
        for k in range(1, 10):
            y = yh + (h - yh) * (k / 10.0)**1.7
            (rl, rr), (wl, wr) = self.road_edges(y), self.walk_edges(y)
            self.line((wl, y), (rl, y), None, tile)
            self.line((rr, y), (wr, y), None, tile)
        self.poly([(top_l, yh), (top_r, yh), (road_r, h), (road_l, h)], ROAD,
                  self.colour(ROAD, std=12))
        curb = np.clip(walk * 0.5 + 110, 0, 255)
        self.line((top_l, yh), (road_l, h), None, curb)
        self.line((top_r, yh), (road_r, h), None, curb)
        # dashed centre line and, sometimes, a zebra crossing (label road)
        paint = self.jitter((225, 225, 215), std=8, gain=(0.85, 1.05))
        offset = rng.uniform(0.0, 0.2)
        for u0 in (offset + k * 0.2 for k in range(6) if offset + k * 0.2 < 1):
            y0 = yh + (h - yh) * u0**1.5
            y1 = yh + (h - yh) * min(u0 + 0.1, 1.0)**1.5
            thick = max(1, int(round(self.depth(y1) * w * 0.012)))
            self.line((sum(self.road_edges(y0)) / 2, y0),
                      (sum(self.road_edges(y1)) / 2, y1), ROAD, paint, thick)
        if rng.random() < 0.25:
            y1 = self.ground_row(0.55, 0.85)
            y0 = y1 - max(1.0, (y1 - yh) * 0.12)
            (l0, r0), (l1, r1) = self.road_edges(y0), self.road_edges(y1)
            for a, b in [(k / 9, (k + 1) / 9) for k in range(0, 9, 2)]:
                self.poly([(l0 + a * (r0 - l0), y0), (l0 + b * (r0 - l0), y0),
                           (l1 + b * (r1 - l1), y1), (l1 + a * (r1 - l1), y1)],
                          ROAD, paint)

    def background(self, forced) -> None:
        """Building/vegetation/wall/fence segments, ``forced`` among them."""
        rng, segments, x = self.rng, [], -1.0
        base = self.horizon + self.height * rng.uniform(0.0, 0.03)
        while x < self.width:
            seg_w = self.width * rng.uniform(0.07, 0.25)
            segments.append([x, x + seg_w, int(rng.choice(
                (BUILDING, VEGETATION, WALL, FENCE, -1),
                p=(0.45, 0.25, 0.1, 0.1, 0.1)))])
            x += seg_w
        missing = [c for c in (BUILDING, WALL, FENCE, VEGETATION)
                   if c in forced and c not in {s[2] for s in segments}]
        slots = rng.permutation(len(segments))
        for k, cls in enumerate(missing):
            segments[slots[k % len(segments)]][2] = cls
        draw = {BUILDING: self.building, VEGETATION: self.vegetation,
                **{c: partial(self.wall_or_fence, c) for c in (WALL, FENCE)}}
        for x0, x1, cls in segments:
            if cls >= 0:
                draw[cls](x0, x1, base)

    def ego_vehicle(self) -> None:
        """The ego vehicle's bonnet at the bottom, labelled ignore (255)."""
        if not self.has_ego:
            return
        h, w = self.height, self.width
        curve = (h - self.ego_top) * self.rng.uniform(0.3, 0.6)
        xs = np.linspace(-1.0, w, 17)
        ys = self.ego_top + curve * ((xs - w / 2) / (w / 2))**2
        colour = self.jitter((40, 40, 46), std=6, gain=(0.7, 1.3))
        self.poly(list(zip(xs, ys)) + [(w, h), (-1.0, h)], IGNORE_INDEX,
                  colour)
        self.poly([(x, y + 1.0) for x, y in zip(xs, ys)] +
                  [(x, y + 2.0) for x, y in zip(xs[::-1], ys[::-1])], None,
                  colour + 45)

    def objects(self) -> None:
        """Random foreground objects, drawn from far (small y) to near."""
        rng, items = self.rng, []  # (ground y, draw, *args)
        for _ in range(int(rng.integers(1, 5))):  # poles with signs/lights
            side = int(rng.integers(0, 2))
            y = self.ground_row(0.15, 0.9)
            x = self.walk_point(y, side)
            roll = rng.random()
            att = SIGN if roll < 0.5 else LIGHT if roll < 0.8 else None
            items.append((y, self.pole, self.object_box(POLE, x, y), att))
        for _ in range(int(rng.integers(0, 6))):  # vehicles on the road
            cls = int(rng.choice((CAR, TRUCK, BUS), p=(0.7, 0.15, 0.15)))
            y = self.ground_row(0.12, 1.0)
            x = rng.uniform(*self.road_edges(y))
            side = bool(rng.random() < 0.4)
            box = self.object_box(cls, x, y, side)
            items.append((y, self.vehicle, cls, box, side))
        if rng.random() < 0.12:  # an occasional train/tram
            y = self.ground_row(0.1, 0.35)
            x = rng.uniform(0.2, 0.8) * self.width
            items.append((y, self.train, self.object_box(TRAIN, x, y)))
        for _ in range(int(rng.integers(0, 6))):  # pedestrians
            y = self.ground_row(0.1, 1.0)
            x = rng.uniform(*self.road_edges(y)) if rng.random() < 0.15 \
                else self.walk_point(y, int(rng.integers(0, 2)))
            items.append((y, self.person, self.object_box(PERSON, x, y)))
        for _ in range(int(rng.choice((0, 1, 2), p=(0.4, 0.4, 0.2)))):
            y = self.ground_row(0.15, 1.0)  # riders on the road
            road_l, road_r = self.road_edges(y)
            x = road_l + rng.uniform(0.05, 0.3) * (road_r - road_l)
            if rng.random() < 0.5:
                x = road_r - (x - road_l)
            vehicle = BICYCLE if rng.random() < 0.55 else MOTORCYCLE
            items.append((y, self.rider, self.object_box(RIDER, x, y),
                          vehicle))
        if rng.random() < 0.3:  # a parked bicycle or motorcycle
            y = self.ground_row(0.2, 1.0)
            x = self.walk_point(y, int(rng.integers(0, 2)))
            x0, y0, x1, _ = self.object_box(RIDER, x, y)
            draw = self.bicycle if rng.random() < 0.6 else self.motorcycle
            items.append((y, draw, (x0, y0 + 0.5 * (y - y0), x1, y)))
        for _, draw, *args in sorted(items, key=lambda item: item[0]):
            draw(*args)

    def forced(self, forced: Sequence[int]) -> None:
        """An object per class in its own slot, a patch if still unseen."""
        forced = sorted(set(forced))
        slot_w = self.width / max(len(forced), 1)
        slots = [(k * slot_w, (k + 1) * slot_w) for k in range(len(forced))]
        for cls, slot in zip(forced, slots):
            y = self.horizon + self.rng.uniform(0.6, 0.95) * (
                self.ego_top - 1 - self.horizon)
            self.forced_object(cls, slot, y)
        present = np.bincount(self.label.ravel(), minlength=256)
        for cls, (x0, x1) in zip(forced, slots):
            if present[cls]:
                continue
            if cls == SKY:
                y0, y1 = 0, max(0.0, self.horizon * 0.3)
            else:
                y1 = self.ego_top - 1
                y0 = y1 - max(0.0, (y1 - self.horizon) * 0.2)
            self.rect(x0, y0, max(x0, x1 - 1), y1, cls, self.colour(cls))

    def forced_object(self, cls: int, slot, y: float) -> None:
        """A ``cls`` object narrowed to ``slot`` (none for background)."""
        if cls not in (*POLES, PERSON, RIDER, BICYCLE, MOTORCYCLE,
                       *VEHICLE_HEIGHT):
            return
        cx = (slot[0] + slot[1]) / 2
        x0, y0, x1, y1 = self.object_box(cls, cx, y, cls == TRAIN)
        half = min((x1 - x0) / 2, (slot[1] - slot[0]) / 2)
        box = (cx - half, y0, cx + half, y1)
        if cls in POLES:
            self.pole(box, cls)  # a bare pole for POLE
        elif cls in (PERSON, TRAIN):
            (self.person if cls == PERSON else self.train)(box)
        elif cls == RIDER:
            self.rider(box, BICYCLE if self.rng.random() < 0.5 else
                       MOTORCYCLE)
        elif cls in (BICYCLE, MOTORCYCLE):
            draw = self.bicycle if cls == BICYCLE else self.motorcycle
            draw((box[0], (y0 + y1) / 2, box[2], y1))
        else:
            self.vehicle(cls, box, side_view=False)

    def finish(self) -> np.ndarray:
        """Texture, illumination, blur and noise: the uint8 RGB image."""
        h, w, rng = self.height, self.width, self.rng
        amp = np.full(256, 0.05, np.float32)
        amp[list(TEXTURE)] = list(TEXTURE.values())
        fine = rng.normal(0.0, 1.0, (h, w)).astype(np.float32)
        coarse = rng.normal(0.0, 1.0, (max(1, h // 6), max(1, w // 6)))
        coarse = cv2.resize(coarse.astype(np.float32), (w, h))  # bilinear
        texture = 0.6 * fine + 0.8 * coarse
        img = self.img * (1.0 + amp[self.label] * texture)[..., None]
        # illumination: global gain, colour cast and a smooth gradient
        gain = rng.uniform(0.7, 1.25) * rng.uniform(0.9, 1.1, 3)
        gy, gx = rng.uniform(-0.2, 0.2, 2)
        ys, xs = (np.linspace(-0.5, 0.5, n, dtype=np.float32) for n in (h, w))
        img = img * (1.0 + gy * ys[:, None] + gx * xs)[..., None] * \
            gain.astype(np.float32)
        img = cv2.GaussianBlur(img, (3, 3), sigmaX=rng.uniform(0.3, 0.9))
        img = img + rng.normal(0.0, rng.uniform(2.0, 7.0), img.shape)
        return np.clip(np.round(img), 0, 255).astype(np.uint8)


def render_sample(seed: int, split: str, index: int, height: int, width: int,
                  forced: Sequence[int] = ()) -> Tuple[np.ndarray, np.ndarray]:
    """One street scene, the ``(H, W, 3)`` uint8 RGB image and ``(H, W)``
    uint8 train ids, a function of the data set ``seed``, ``split``
    (train/val), sample ``index``, size and the ids ``forced`` in."""
    key = [int(seed), ('train', 'val').index(split), int(index)]
    scene_rng, forced_rng, finish_rng = (
        np.random.default_rng(key + [k]) for k in range(3))
    scene = StreetScene(scene_rng, height, width)
    scene.sky()
    scene.background(set(forced))
    scene.ground()
    if scene_rng.random() < 0.4:  # shadow of a building across the street
        y = scene.ground_row(0.2, 0.9)
        scene.shade([(-1, y), (width, y - height * 0.1), (width, height),
                     (-1, height)], scene_rng.uniform(0.6, 0.85))
    for side in (0, 1):
        if scene_rng.random() < 0.35:
            scene.side_barrier(side)
        if scene_rng.random() < 0.3:
            y = scene.ground_row(0.3, 0.9)
            scene.tree(scene.walk_edges(y)[side], y,
                       scene.depth(y) * height * scene_rng.uniform(0.15, 0.3))
    scene.objects()
    scene.ego_vehicle()
    scene.rng = forced_rng
    scene.forced(forced)
    scene.rng = finish_rng
    return scene.finish(), scene.label


def sample_files(data_root: str, split: str, index: int) -> List[str]:
    """The image and label paths of a sample."""
    name = f'{CITY}_{index:06d}_000019'
    return [osp.join(data_root, folder, split, CITY, name + suffix)
            for folder, suffix in FOLDERS]


def _all_files(data_root: str, args) -> List[str]:
    """All sample files for ``args`` (none for an old manifest's bad ones)."""
    try:
        return [path for split in SPLITS
                for index in range(args[f'num_{split}'])
                for path in sample_files(data_root, split, index)]
    except (KeyError, TypeError):
        return []


def _write_png(path: str, array: np.ndarray) -> None:
    """Write an RGB or single-channel uint8 array as a deterministic PNG."""
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode('.png', array, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise RuntimeError(f'Failed to encode {path}')
    buf.tofile(path)


def _read_manifest(path: str) -> Dict:
    try:
        with open(path, encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _generate_split(data_root: str, split: str, args: Dict) -> Dict:
    """Write a split; redraw samples with the missing classes forced in."""
    num = args[f'num_{split}']
    for path in sample_files(data_root, split, 0):
        os.makedirs(osp.dirname(path), exist_ok=True)
    counts, forced, todo = {}, {}, range(num)
    for _ in range(len(CLASSES) + 2):
        for index in todo:
            img, label = render_sample(args['seed'], split, index,
                                       args['height'], args['width'],
                                       sorted(forced.get(index, ())))
            for path, array in zip(sample_files(data_root, split, index),
                                   (img, label)):
                _write_png(path, array)
            counts[index] = np.bincount(label.ravel(), minlength=256)
        total = sum(counts.values())
        missing = [c for c in range(len(CLASSES)) if total[c] == 0]
        if not missing:
            break
        for cls in missing:
            forced.setdefault((cls * 7) % num, set()).add(cls)
        todo = sorted({(cls * 7) % num for cls in missing})
    else:
        raise RuntimeError(f'Could not place every class in split {split}')
    return dict(num_samples=num,
                class_pixel_counts=[int(v) for v in total[:len(CLASSES)]],
                ignore_pixel_count=int(total[IGNORE_INDEX]),
                forced={str(k): sorted(v) for k, v in sorted(forced.items())})


def generate_demo_cityscapes(data_root: str, num_train: int = 48,
                             num_val: int = 12, height: int = 128,
                             width: int = 256, seed: int = 0,
                             force: bool = False) -> Dict:
    """Write the demo data set into ``data_root`` unless an up-to-date one
    is there (``force``: rewrite). Sizes >= 32, sample counts >= 1, seed
    >= 0; otherwise ``ValueError``, and nothing is written.

    Returns:
        dict: The manifest (``args``, ``classes`` and per split in
        ``splits`` ``num_samples``, ``class_pixel_counts``,
        ``ignore_pixel_count``, ``forced``: sample index -> classes forced
        in), with ``data_root`` and ``generated`` (False: reused).
    """
    if not isinstance(data_root, (str, os.PathLike)) or not str(data_root):
        raise ValueError(f'data_root must be a non-empty path, got '
                         f'{data_root!r}')
    args = dict(num_train=num_train, num_val=num_val, height=height,
                width=width, seed=seed, city=CITY)
    for name, low in (('num_train', 1), ('num_val', 1), ('height', MIN_SIZE),
                      ('width', MIN_SIZE), ('seed', 0)):
        value = args[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f'{name} must be an int, got {value!r}')
        if value < low:
            raise ValueError(f'{name} must be >= {low}, got {value}')
        args[name] = int(value)
    data_root = os.fspath(data_root)
    manifest_path = osp.join(data_root, MANIFEST_NAME)
    old, files = _read_manifest(manifest_path), _all_files(data_root, args)
    if not force and old.get('format_version') == FORMAT_VERSION \
            and old.get('args') == args and all(map(osp.isfile, files)):
        return dict(old, data_root=data_root, generated=False)
    os.makedirs(data_root, exist_ok=True)
    if osp.exists(manifest_path):
        os.remove(manifest_path)
    for path in set(_all_files(data_root, old.get('args'))) - set(files):
        if osp.isfile(path):  # a file of the old arguments
            os.remove(path)
    manifest = dict(
        format_version=FORMAT_VERSION, generator='tools/make_demo_data.py',
        args=args, classes=list(CLASSES),
        splits={s: _generate_split(data_root, s, args) for s in SPLITS})
    with open(manifest_path + '.tmp', 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(manifest_path + '.tmp', manifest_path)
    return dict(manifest, data_root=data_root, generated=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description='Generate the synthetic Cityscapes-format demo data set')
    parser.add_argument('--out', default='data/demo', help='data_root')
    for name, default in (('num-train', 48), ('num-val', 12), ('height', 128),
                          ('width', 256), ('seed', 0)):
        parser.add_argument(f'--{name}', type=int, default=default)
    parser.add_argument('--force', action='store_true',
                        help='regenerate even an up-to-date data set')
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        summary = generate_demo_cityscapes(
            args.out, args.num_train, args.num_val, args.height, args.width,
            args.seed, args.force)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    state = (f'generated in {time.perf_counter() - start:.1f}s'
             if summary['generated'] else 'up to date, nothing written')
    splits = summary['splits']
    print(f"demo data at {summary['data_root']}: "
          f"{splits['train']['num_samples']} train + "
          f"{splits['val']['num_samples']} val images, "
          f'{args.height}x{args.width}, seed {args.seed}, all '
          f'{len(CLASSES)} classes in each split ({state})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
