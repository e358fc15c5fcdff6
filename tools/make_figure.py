# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Input | ground truth | prediction rows (the layout of the paper's fig. 6)
for images of a config's val (or test) split.

    python tools/make_figure.py configs/rgpnet_r18_demo.py \\
        work_dirs/rgpnet_r18_demo/iter_400.pth \\
        --out docs/figures/demo_predictions.png

MODEL [CHECKPOINT] are what ``tools/infer.py`` takes (a config and its
``.pth``, or a deployed dir and optionally its model file); the images and
their ground truth come from the config's data set (``--config`` names it
to use another data set). Each prediction carries its pixel accuracy; the
per-image accuracy and the mIoU over the shown images are also printed.

Exit status: 0 written; 2 nothing was run (one line why): a missing or
unusable config/checkpoint/model file, a checkpoint that does not fit its
config, or an empty split.
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add = parser.add_argument
    add('model', help='model config, or a deployed dir')
    add('checkpoint', nargs='?', help='model file')
    add('--out', required=True, help='the figure (.png)')
    add('--config', help='config of the data set (default: MODEL\'s)')
    add('--split', choices=['val', 'test'], default='val')
    add('--data-root', help='override the data set\'s data_root')
    add('--num', type=int, default=4,
        help='rows, spread evenly over the split (default 4)')
    add('--indices', type=int, nargs='+',
        help='rows: these images of the split (in the data set\'s order)')
    add('--backend',
        choices=['pytorch', 'onnxruntime', 'tensorrt', 'openvino'])
    add('--device')
    return parser.parse_args(argv)


def ground_truth(info: dict) -> np.ndarray:
    """The label map of a data set entry, with its label_map and
    reduce_zero_label applied as mmseg's LoadAnnotations does."""
    gt = cv2.imread(info['seg_map_path'], cv2.IMREAD_UNCHANGED)
    if gt is None:
        raise OSError(f'cannot read ground truth {info["seg_map_path"]}')
    gt = (gt[..., 0] if gt.ndim == 3 else gt).astype(np.int64)
    if info.get('label_map'):
        mapped = gt.copy()
        for old, new in info['label_map'].items():
            mapped[gt == old] = new
        gt = mapped
    if info.get('reduce_zero_label'):
        gt = np.where(gt == 0, 255, gt - 1)
        gt[gt == 254] = 255
    return gt


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmseg.registry import DATASETS

    from rgpnet_mmseg.apis import (InferenceError, build_segmenter,
                                   comparison_figure, deployed_configs,
                                   load_config, read_image)
    from rgpnet_mmseg.compat import CheckpointError
    try:
        if args.config or not osp.isdir(args.model):
            cfg = load_config(args.config or args.model)
        else:
            cfg = deployed_configs(args.model)[0]
        segmenter = build_segmenter(args.model, args.checkpoint,
                                    args.backend, args.device)
    except (InferenceError, CheckpointError) as e:
        sys.stderr.write(f'{e}\n')
        return 2

    dataset_cfg = cfg[f'{args.split}_dataloader']['dataset']
    if args.data_root:
        dataset_cfg['data_root'] = args.data_root
    dataset_cfg.update(pipeline=[], lazy_init=True)
    dataset = DATASETS.build(dataset_cfg)
    dataset.full_init()
    n = len(dataset)
    if n == 0:
        sys.stderr.write(f'the {args.split} split has no images\n')
        return 2
    indices = args.indices or sorted(
        set(np.linspace(0, n - 1, min(args.num, n)).round().astype(int)))

    num_classes = len(segmenter.classes)
    rows, captions = [], []
    inter, union = np.zeros(num_classes), np.zeros(num_classes)
    for i in indices:
        info = dataset.get_data_info(int(i))
        image = read_image(info['img_path'])
        gt = ground_truth(info)
        pred = segmenter(image)
        valid = gt != 255
        acc = (float((pred[valid] == gt[valid]).mean()) if valid.any() else
               float('nan'))
        for c in range(num_classes):
            p, g = (pred == c) & valid, gt == c
            inter[c] += (p & g).sum()
            union[c] += (p | g).sum()
        rows.append((image, gt, pred))
        captions.append(f'acc {100 * acc:.1f}%')
        print(f'{osp.basename(info["img_path"])}: pixel accuracy '
              f'{100 * acc:.2f} %')
    present = union > 0
    print(f'mIoU over these {len(indices)} images ({present.sum()} classes '
          f'present): {100 * (inter[present] / union[present]).mean():.2f}')

    figure = comparison_figure(
        rows, segmenter.palette, segmenter.classes, captions=captions)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, figure, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f'{args.out}: {figure.shape[1]} x {figure.shape[0]} px, '
          f'{osp.getsize(args.out) / 1024:.0f} KiB')
    return 0


if __name__ == '__main__':
    sys.exit(main())
