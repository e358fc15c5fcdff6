# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Generate the deterministic synthetic Cityscapes-format demo data set.

Usage::

    python tools/make_demo_data.py [--out data/demo] [--num-train N]
        [--num-val N] [--height H] [--width W] [--seed S] [--force]

Writes the layout mmseg's ``CityscapesDataset`` reads, with
``NAME = democity_{index:06d}_000019``::

    OUT/leftImg8bit/{train,val}/democity/NAME_leftImg8bit.png
    OUT/gtFine/{train,val}/democity/NAME_gtFine_labelTrainIds.png

Every class appears in each split (samples that miss one are redrawn with
it forced in), and the same arguments give byte-identical files.
``demo_manifest.json`` records the arguments: while it matches and every
file is there, nothing is written (``--force`` rewrites). Needs numpy and
OpenCV only (the scenes come from ``demo_renderer.py`` beside this file).
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

import cv2
import numpy as np

FORMAT_VERSION = 1  # bump when the files change: old data sets regenerate
MANIFEST_NAME = 'demo_manifest.json'
CITY = 'democity'
SPLITS = ('train', 'val')
FOLDERS = (('leftImg8bit', '_leftImg8bit.png'),
           ('gtFine', '_gtFine_labelTrainIds.png'))
MIN_SIZE = 32


def load_renderer():
    """``demo_renderer.py`` beside this file, imported by its path."""
    if 'demo_renderer' not in sys.modules:
        path = osp.join(osp.dirname(osp.abspath(__file__)), 'demo_renderer.py')
        spec = importlib.util.spec_from_file_location('demo_renderer', path)
        module = importlib.util.module_from_spec(spec)
        sys.modules['demo_renderer'] = module
        spec.loader.exec_module(module)
    return sys.modules['demo_renderer']


renderer = load_renderer()
CLASSES, IGNORE_INDEX = renderer.CLASSES, renderer.IGNORE_INDEX


def sample_files(data_root: str, split: str, index: int) -> List[str]:
    """The image and label paths of a sample."""
    name = f'{CITY}_{index:06d}_000019'
    return [
        osp.join(data_root, folder, split, CITY, name + suffix)
        for folder, suffix in FOLDERS
    ]


def _all_files(data_root: str, args: Dict) -> List[str]:
    return [
        path for split in SPLITS for index in range(args[f'num_{split}'])
        for path in sample_files(data_root, split, index)
    ]


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
        with open(path, encoding='utf-8') as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _generate_split(data_root: str, split: str, args: Dict) -> Dict:
    """Render and write a split; redraw samples with the classes that no
    sample holds forced in, until every class is there."""
    num = args[f'num_{split}']
    for path in sample_files(data_root, split, 0):
        os.makedirs(osp.dirname(path), exist_ok=True)
    counts, forced = {}, {}

    def render(index: int) -> None:
        img, label = renderer.render_sample(args['seed'], split, index,
                                            args['height'], args['width'],
                                            sorted(forced.get(index, ())))
        for path, array in zip(sample_files(data_root, split, index),
                               (img, label)):
            _write_png(path, array)
        counts[index] = np.bincount(label.ravel(), minlength=256)

    for index in range(num):
        render(index)
    for _ in range(len(CLASSES) + 1):
        total = sum(counts.values())
        missing = [c for c in range(len(CLASSES)) if total[c] == 0]
        if not missing:
            break
        for cls in missing:
            forced.setdefault((cls * 7) % num, set()).add(cls)
        for index in sorted({(cls * 7) % num for cls in missing}):
            render(index)
    total = sum(counts.values())
    if not total[:len(CLASSES)].all():
        raise RuntimeError(f'Could not place every class in split {split}')
    return dict(
        num_samples=num,
        class_pixel_counts=[int(v) for v in total[:len(CLASSES)]],
        ignore_pixel_count=int(total[IGNORE_INDEX]),
        forced={str(k): sorted(v)
                for k, v in sorted(forced.items())})


def generate_demo_cityscapes(data_root: str,
                             num_train: int = 48,
                             num_val: int = 12,
                             height: int = 128,
                             width: int = 256,
                             seed: int = 0,
                             force: bool = False) -> Dict:
    """Write the demo data set (see the module docstring) unless an
    up-to-date one is there.

    Args:
        data_root (str): Output folder (created if needed).
        num_train (int): Training samples, >= 1. Defaults to 48.
        num_val (int): Validation samples, >= 1. Defaults to 12.
        height (int): Image height, >= 32. Defaults to 128.
        width (int): Image width, >= 32. Defaults to 256.
        seed (int): Random seed, >= 0. Defaults to 0.
        force (bool): Rewrite even an up-to-date data set.

    Returns:
        dict: The manifest (``args``, ``classes`` and per split in
        ``splits`` ``num_samples``, ``class_pixel_counts``,
        ``ignore_pixel_count``, ``forced``: sample index -> classes forced
        in), with ``data_root`` and ``generated`` (False: reused).

    Raises:
        ValueError: An argument is invalid (nothing is written).
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
    old = _read_manifest(manifest_path)
    if not force and old and old.get('format_version') == FORMAT_VERSION \
            and old.get('args') == args \
            and all(map(osp.isfile, _all_files(data_root, args))):
        return dict(old, data_root=data_root, generated=False)
    os.makedirs(data_root, exist_ok=True)
    if osp.exists(manifest_path):
        os.remove(manifest_path)
    if old and isinstance(old.get('args'), dict):  # files of other args
        try:
            stale = set(_all_files(data_root, old['args']))
        except (KeyError, TypeError):
            stale = set()
        for path in stale - set(_all_files(data_root, args)):
            if osp.isfile(path):
                os.remove(path)
    manifest = dict(
        format_version=FORMAT_VERSION,
        generator='tools/make_demo_data.py',
        args=args,
        classes=list(CLASSES),
        splits={s: _generate_split(data_root, s, args)
                for s in SPLITS})
    with open(manifest_path + '.tmp', 'w', encoding='utf-8') as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write('\n')
    os.replace(manifest_path + '.tmp', manifest_path)
    return dict(manifest, data_root=data_root, generated=True)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Generate the synthetic Cityscapes-format demo data set')
    parser.add_argument(
        '--out', default='data/demo', help='output folder (data_root)')
    parser.add_argument('--num-train', type=int, default=48)
    parser.add_argument('--num-val', type=int, default=12)
    parser.add_argument('--height', type=int, default=128)
    parser.add_argument('--width', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--force',
        action='store_true',
        help='regenerate even if an up-to-date data set exists')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
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
