# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Input | ground truth | prediction rows (the layout of the paper's fig. 6)
for images of a config's val (or test) split.

    python tools/make_figure.py configs/rgpnet_r18_demo.py \\
        work_dirs/rgpnet_r18_demo/iter_400.pth \\
        --out docs/figures/demo_predictions.png

MODEL [CHECKPOINT] as for ``tools/infer.py``; the data from its config (or
``--config``). Pixel accuracies and the mIoU over the rows are printed.
Exit status: 0 written; 2 nothing was run (one line why): an unusable
config/checkpoint/model file, or an empty split."""
import argparse
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


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmseg.registry import DATASETS

    from rgpnet_mmseg.apis import (InferenceError, build_segmenter,
                                   comparison_figure, deployed_configs,
                                   load_config, read_image, save_image)
    from rgpnet_mmseg.compat import CheckpointError
    from rgpnet_mmseg.datasets.transforms import CheckedLoadAnnotations
    try:
        cfg = load_config(args.config or args.model) if args.config or \
            not osp.isdir(args.model) else deployed_configs(args.model)[0]
        segmenter = build_segmenter(args.model, args.checkpoint,
                                    args.backend, args.device)
    except (InferenceError, CheckpointError) as e:
        sys.stderr.write(f'{e}\n')
        return 2

    dataset_cfg = cfg[f'{args.split}_dataloader']['dataset']
    if args.data_root:
        dataset_cfg['data_root'] = args.data_root
    dataset_cfg['pipeline'] = []
    dataset = DATASETS.build(dataset_cfg)
    n = len(dataset)
    if n == 0:
        sys.stderr.write(f'the {args.split} split has no images\n')
        return 2
    indices = args.indices or sorted(
        set(np.linspace(0, n - 1, min(args.num, n)).round().astype(int)))

    num_classes, load_gt = len(segmenter.classes), CheckedLoadAnnotations()
    rows, captions = [], []
    inter, union = np.zeros(num_classes), np.zeros(num_classes)
    for i in indices:
        info = dataset.get_data_info(int(i))
        image = read_image(info['img_path'])
        gt = load_gt(dict(info, seg_fields=[]))['gt_seg_map'].astype(np.int64)
        pred = segmenter(image)
        valid = gt != 255
        acc = np.mean(pred[valid] == gt[valid]) if valid.any() else np.nan
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
    save_image(args.out, figure, cv2.IMWRITE_PNG_COMPRESSION, 9)
    print(f'{args.out}: {figure.shape[1]} x {figure.shape[0]} px, '
          f'{osp.getsize(args.out) / 1024:.0f} KiB')
    return 0


if __name__ == '__main__':
    sys.exit(main())
