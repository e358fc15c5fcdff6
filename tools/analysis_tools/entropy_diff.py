# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Difference in prediction entropy between two segmentors (paper fig. 5).

Writes ``H_A - H_B`` (nats, per pixel) to ``--out`` (white = 0, blue where A
is more confident) and prints (``--json``: writes) the mean entropies on
border, non-border and all pixels; ``--figure``: a panel with both entropy
maps. See docs/label_relaxation.md."""
import argparse
import json
import math
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch


class EntropyDiffError(ValueError):
    """A wrong input (sizes or class counts that do not match)."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Prediction entropy of two segmentors: A - B heat map '
        '(blue: A more confident), means on border pixels')
    add = parser.add_argument
    for name in ('config_a', 'checkpoint_a', 'config_b', 'checkpoint_b'):
        add(name, help=f'{name[:-2]} of model {name[-1].upper()}')
    add('image', help='input image')
    add('--out', required=True, help="heat map PNG (the image's size)")
    add('--label', help='ground-truth label map (PNG of train ids), gives '
        'the border pixels')
    add('--kernel-size', type=int, default=3,
        help='odd border window size k (default: 3)')
    add('--border-from', choices=('label', 'union', 'a', 'b'),
        help='default: label with --label, else union of both predictions')
    add('--ignore-index', type=int, default=255,
        help='label value left out (default: 255)')
    add('--vmax', type=float, help='heat map scale, +-vmax nats (default: '
        '99th percentile of |A - B|)')
    add('--cmap', default='RdBu_r', help='diverging colormap (RdBu_r)')
    add('--figure', help='also write a panel figure (PNG)')
    add('--json', help='write the statistics as JSON here (- = stdout)')
    for m in 'ab':
        add(f'--name-{m}', help=f'name of {m.upper()} in output')
    add('--device', default='cpu', help='torch device (cpu)')
    args = parser.parse_args(argv)
    if args.kernel_size < 1 or args.kernel_size % 2 == 0:
        parser.error(f'--kernel-size must be a positive odd number, got '
                     f'{args.kernel_size}')
    args.border_from = args.border_from or ('label' if args.label else 'union')
    if args.border_from == 'label' and not args.label:
        parser.error('--border-from label needs --label')
    if args.vmax is not None and not args.vmax > 0:
        parser.error(f'--vmax must be > 0, got {args.vmax}')
    from matplotlib import colormaps
    if args.cmap not in colormaps:
        parser.error(f'--cmap: unknown matplotlib colormap {args.cmap!r}')
    return args


def _read_label(path: str, h: int, w: int) -> torch.Tensor:
    """The (H, W) int64 label map at ``path``, checked against the image."""
    import cv2
    if not osp.isfile(path):
        raise FileNotFoundError(f'label map not found: {path}')
    label = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise EntropyDiffError(f'cannot read the label map {path}')
    if label.ndim != 2:
        raise EntropyDiffError(
            f'the label map {path} must be a single-channel PNG of train '
            f'ids, got shape {label.shape}')
    if label.shape != (h, w):
        raise EntropyDiffError(f'the label map {path} is {label.shape[0]}x'
                               f'{label.shape[1]}, the image is {h}x{w}')
    return torch.from_numpy(label.astype(np.int64))


def _run_models(args, cfgs: Tuple, ckpts: Tuple, h: int, w: int) -> Tuple:
    """The (C, H, W) float ``seg_logits`` of A and B, and model B."""
    from mmseg.apis import inference_model, init_model
    logits = []
    for cfg, ckpt in zip(cfgs, ckpts):
        model = init_model(cfg, ckpt, device=args.device)
        result = inference_model(model, args.image)
        if 'seg_logits' not in result:
            raise EntropyDiffError('the model returned no seg_logits')
        logits.append(result.seg_logits.data.float().cpu())
        if tuple(logits[-1].shape[-2:]) != (h, w):
            raise EntropyDiffError(
                f'{cfg}: seg_logits are {tuple(logits[-1].shape)}, the '
                f'image is {h}x{w}')
    if logits[0].shape[0] != logits[1].shape[0]:
        raise EntropyDiffError(f'the models have {logits[0].shape[0]} and '
                               f'{logits[1].shape[0]} classes')
    return logits, model


def _border(args: argparse.Namespace, label, preds, num_classes: int):
    """The (H, W) border mask of ``--border-from`` and its description."""
    from rgpnet_mmseg.apis.entropy import prediction_border_mask
    from rgpnet_mmseg.models.losses.label_relaxation_loss import border_mask
    k = args.kernel_size
    if args.border_from == 'label':  # as the label-relaxation loss sees it
        try:
            return border_mask(label[None], k, args.ignore_index,
                               num_classes)[0], f'the label map (k={k})'
        except ValueError as err:  # labels outside [0, C)
            raise EntropyDiffError(f'{args.label}: {err}') from None
    a, b = (prediction_border_mask(p, k, num_classes) for p in preds)
    mask, desc = {'union': (a | b, 'the predictions of A or B'),
                  'a': (a, 'the prediction of A'),
                  'b': (b, 'the prediction of B')}[args.border_from]
    return mask, f'{desc} (k={k})'


def _write_figure(args, image_bgr, palette, label, pred_b, ents: Tuple,
                  diff: np.ndarray, stats: Dict, names: Tuple) -> None:
    """The ``--figure`` panel: image, ground truth (or B's prediction),
    both entropy maps, A - B with a colour bar."""
    import mmengine
    from matplotlib.figure import Figure

    from rgpnet_mmseg.apis.visualize import colorize
    if palette is None:
        palette = np.random.default_rng(0).integers(
            0, 255, (stats['num_classes'], 3))
    seg = pred_b if label is None else torch.where(
        label == args.ignore_index, -1, label)
    seg_rgb = colorize(seg.numpy(), palette)[..., ::-1]

    def sets(d: Dict, fmt: str) -> str:
        return (f'border {d["border"]:{fmt}}, non-border '
                f'{d["non_border"]:{fmt}}')

    vmax, ent = stats['vmax'], dict(vmin=0, vmax=stats['max_entropy'])
    panels = [(image_bgr[..., ::-1], 'image', {}),
              (seg_rgb, 'ground truth' if label is not None else
               f'prediction of B: {names[1]}', {})]
    panels += [(ents[i].numpy(), f'entropy {key.upper()}: {names[i]}\n' +
                sets(stats[key], '.3f'), dict(cmap='magma', **ent))
               for i, key in enumerate('ab')]
    panels.append((diff, 'A - B (blue: A more confident)\n' +
                   sets(stats['diff'], '+.3f'),
                   dict(cmap=args.cmap, vmin=-vmax, vmax=vmax)))
    h, w = diff.shape
    fig = Figure(figsize=(5 * 3.2, 3.2 * h / w + 0.9), layout='constrained')
    for ax, (img, title, kwargs) in zip(fig.subplots(1, 5), panels):
        im = ax.imshow(img, interpolation='nearest', **kwargs)
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, shrink=0.8, label='nats')
    mmengine.mkdir_or_exist(osp.dirname(osp.abspath(args.figure)))
    fig.savefig(args.figure, dpi=100, bbox_inches='tight', pad_inches=0.05)


def run(args: argparse.Namespace) -> Dict:
    """Compute, write and print; return the statistics."""
    import mmcv
    import mmengine

    import rgpnet_mmseg  # noqa: F401  (registers the models)
    from rgpnet_mmseg.apis.entropy import (diverging_heatmap,
                                           entropy_from_logits, entropy_stats,
                                           set_means)
    from rgpnet_mmseg.apis.visualize import save_image
    for i, path in enumerate((args.image, args.config_a, args.checkpoint_a,
                              args.config_b, args.checkpoint_b)):
        if not osp.isfile(path):
            kind = 'file' if i else 'image'
            raise FileNotFoundError(f'{kind} not found: {path}')
    cfgs, ckpts = (args.config_a, args.config_b), (args.checkpoint_a,
                                                   args.checkpoint_b)
    names = tuple(given or osp.splitext(osp.basename(cfg))[0]
                  for cfg, given in zip(cfgs, (args.name_a, args.name_b)))
    image_bgr = mmcv.imread(args.image)
    h, w = image_bgr.shape[:2]
    label, valid = None, torch.ones((h, w), dtype=torch.bool)
    if args.label:
        label = _read_label(args.label, h, w)
        valid = label != args.ignore_index
    logits, model_b = _run_models(args, cfgs, ckpts, h, w)
    num_classes = logits[0].shape[0]
    ents = tuple(entropy_from_logits(x, dim=0) for x in logits)
    preds = tuple(x.argmax(0) for x in logits)
    border, border_desc = _border(args, label, preds, num_classes)

    stats = entropy_stats(*ents, border, valid)
    diff = (ents[0] - ents[1]).numpy()
    vmax = args.vmax or max(1e-6, float(np.percentile(np.abs(diff), 99)))
    save_image(args.out, diverging_heatmap(diff, vmax, args.cmap)[..., ::-1])
    stats.update(
        image=args.image, label=args.label, size=[h, w],
        num_classes=num_classes, max_entropy=math.log(num_classes),
        unit='nats', border_from=args.border_from,
        kernel_size=args.kernel_size,
        ignore_index=args.ignore_index if args.label else None,
        heatmap=args.out, vmax=vmax, cmap=args.cmap,
        models={key: dict(name=name, config=cfg, checkpoint=ckpt)
                for key, name, cfg, ckpt in zip('ab', names, cfgs, ckpts)},
        pred_agreement=float((preds[0] == preds[1])[valid].float().mean()))
    if label is not None:  # confident is not the same as right
        stats['pixel_acc'] = set_means(
            {key: (pred == label).float()
             for key, pred in zip('ab', preds)}, border, valid)
    if args.figure:
        palette = (model_b.dataset_meta or {}).get('palette')
        _write_figure(args, image_bgr, palette, label, preds[1], ents, diff,
                      stats, names)
    _print(stats, names, border_desc)
    if args.json == '-':
        print(json.dumps(stats, indent=2))
    elif args.json:
        mmengine.dump(stats, args.json, file_format='json', indent=2)
    return stats


def _print(stats: Dict, names: Tuple, border_desc: str) -> None:
    print(f'{stats["image"]} ({stats["size"][0]}x{stats["size"][1]}): mean '
          f'prediction entropy in nats (max log {stats["num_classes"]} = '
          f'{stats["max_entropy"]:.4f})')
    print(f'border pixels from {border_desc}: {stats["num_border"]} border '
          f'({stats["border_fraction"] * 100:.1f} %), '
          f'{stats["num_non_border"]} non-border')
    width = max(len(names[0]), len(names[1]), 5) + 4
    print(f'{"model":<{width}} {"border":>10} {"non-border":>11} {"all":>10}')

    def row(title: str, d: Dict, signed: bool = False) -> None:
        cells = (('n/a' if math.isnan(d[key]) else
                  f'{d[key]:{"+" if signed else ""}.4f}').rjust(n)
                 for key, n in (('border', 10), ('non_border', 11),
                                ('all', 10)))
        print(f'{title:<{width}}', *cells)

    titles = {'a': f'A: {names[0]}', 'b': f'B: {names[1]}', 'diff': 'A - B'}
    for key, title in titles.items():
        row(title, stats[key], signed=key == 'diff')
    if 'pixel_acc' in stats:
        print('pixel accuracy (against the label map):')
        for key, means in stats['pixel_acc'].items():
            row(titles[key], means)
    print(f'heat map (A - B, {stats["cmap"]}, +-{stats["vmax"]:.4f} nats, '
          f'blue: A more confident): {stats["heatmap"]}')


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    from rgpnet_mmseg.apis.errors import run_or_exit
    return run_or_exit(lambda: run(args), EntropyDiffError)


if __name__ == '__main__':
    main()
