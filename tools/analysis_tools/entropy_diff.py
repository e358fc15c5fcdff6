# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Difference in prediction entropy between two segmentors (paper fig. 5).

    python tools/analysis_tools/entropy_diff.py CFG_A CKPT_A CFG_B CKPT_B IMAGE
        --out heatmap.png [--label LABEL_PNG] [--kernel-size 3]
        [--border-from label|union|a|b] [--vmax V] [--figure panel.png]
        [--json stats.json] [--name-a A] [--name-b B] [--device cpu]

Runs both models on IMAGE with mmseg's ``init_model``/``inference_model``,
takes the softmax of each one's ``seg_logits`` (at the image's size) and its
per-pixel entropy ``H = -sum_c p_c log p_c`` (nats, at most ``log C``), and

* writes ``--out``: a PNG of the image's size, the difference ``H_A - H_B``
  in a diverging colormap (``RdBu_r`` over ``[-vmax, vmax]``, white = 0):
  **blue where A is more confident** (lower entropy), red where B is, as
  in the paper's fig. 5 with A = the model trained with label relaxation;
* prints the mean entropy of each model and of the difference on border
  pixels, non-border pixels and all pixels (``--json`` writes them too);
* ``--figure``: a panel figure (image, ground truth or B's prediction, both
  entropy maps, the difference with a colour bar).

Border pixels (``--border-from``):

* ``label`` (the default when ``--label`` is given): pixels whose
  ``k x k`` window (``--kernel-size``) holds more than one label of the
  ground truth, exactly the pixels the label-relaxation loss relaxes
  (:func:`border_mask`); pixels with the ignore index are left out of
  every mean;
* ``union`` (the default without ``--label``): the border pixels of A's
  predicted label map or of B's. Taking one model's own borders would
  favour the other model (a model's predicted borders are where its own
  classes meet, i.e. where its entropy is high), so the default is
  symmetric;
* ``a`` / ``b``: the border pixels of that model's prediction.

``--vmax`` defaults to the 99th percentile of ``|H_A - H_B|`` over the image
(printed); give a fixed value to compare pictures.
"""
import argparse
import json
import math
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

BORDER_SOURCES = ('label', 'union', 'a', 'b')


class EntropyDiffError(ValueError):
    """A wrong input (sizes or class counts that do not match)."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Heat map of the difference in prediction entropy of two '
        'segmentors (A - B; blue: A more confident), and their mean entropy '
        'on border and non-border pixels')
    parser.add_argument('config_a', help='config of model A')
    parser.add_argument('checkpoint_a', help='checkpoint of model A')
    parser.add_argument('config_b', help='config of model B')
    parser.add_argument('checkpoint_b', help='checkpoint of model B')
    parser.add_argument('image', help='input image')
    parser.add_argument(
        '--out', required=True, help='heat map PNG (the image\'s size)')
    parser.add_argument(
        '--label',
        help='ground-truth label map (PNG of train ids, the image\'s size); '
        'border pixels are taken from it')
    parser.add_argument(
        '--kernel-size',
        type=int,
        default=3,
        help='odd window size k of the border definition (default: 3, as '
        'the label-relaxation loss)')
    parser.add_argument(
        '--border-from',
        choices=BORDER_SOURCES,
        default=None,
        help='where border pixels come from (default: label with --label, '
        'else union of both predictions)')
    parser.add_argument(
        '--ignore-index',
        type=int,
        default=255,
        help='label value left out of the statistics (default: 255)')
    parser.add_argument(
        '--vmax',
        type=float,
        default=None,
        help='colour scale of the heat map, +-vmax nats (default: 99th '
        'percentile of |A - B|)')
    parser.add_argument(
        '--cmap',
        default='RdBu_r',
        help='diverging matplotlib colormap, low values first (default: '
        'RdBu_r, negative = blue)')
    parser.add_argument('--figure', help='also write a panel figure (PNG)')
    parser.add_argument(
        '--json',
        help='write the statistics as JSON to this file (- = stdout)')
    parser.add_argument('--name-a', default=None, help='name of A in output')
    parser.add_argument('--name-b', default=None, help='name of B in output')
    parser.add_argument('--device', default='cpu', help='device (cpu)')
    args = parser.parse_args(argv)
    if args.kernel_size < 1 or args.kernel_size % 2 == 0:
        parser.error(f'--kernel-size must be a positive odd number, got '
                     f'{args.kernel_size}')
    if args.border_from is None:
        args.border_from = 'label' if args.label else 'union'
    if args.border_from == 'label' and not args.label:
        parser.error('--border-from label needs --label')
    if args.vmax is not None and not args.vmax > 0:
        parser.error(f'--vmax must be > 0, got {args.vmax}')
    from matplotlib import colormaps
    if args.cmap not in colormaps:
        parser.error(f'--cmap: unknown matplotlib colormap {args.cmap!r}')
    return args


def _name(config: str, given: Optional[str]) -> str:
    return given or osp.splitext(osp.basename(config))[0]


def _read_label(path: str) -> np.ndarray:
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
    return label


def _logits(model, image: str) -> torch.Tensor:
    from mmseg.apis import inference_model
    result = inference_model(model, image)
    if 'seg_logits' not in result:
        raise EntropyDiffError('the model returned no seg_logits')
    return result.seg_logits.data.float().cpu()  # (C, H, W)


def _save_rgb(path: str, rgb: np.ndarray) -> None:
    import cv2
    out_dir = osp.dirname(osp.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f'cannot write {path}')


def _colour_labels(label: np.ndarray, palette,
                   ignore_index: int) -> np.ndarray:
    palette = np.asarray(palette, dtype=np.uint8)
    out = np.zeros((*label.shape, 3), dtype=np.uint8)
    ok = (label != ignore_index) & (label < len(palette)) & (label >= 0)
    out[ok] = palette[label[ok]]
    return out


def _write_figure(path: str, image_rgb: np.ndarray, seg_rgb: np.ndarray,
                  seg_title: str, ent_a: np.ndarray, ent_b: np.ndarray,
                  diff: np.ndarray, vmax: float, max_entropy: float,
                  names: tuple, cmap: str, stats: Dict) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    h, w = diff.shape
    panel_w = 3.2
    fig, axes = plt.subplots(
        1, 5, figsize=(5 * panel_w, panel_w * h / w + 0.9),
        constrained_layout=True)
    d = stats
    items = [
        (image_rgb, 'image', None),
        (seg_rgb, seg_title, None),
        (ent_a, f'entropy A: {names[0]}\nborder {d["a"]["border"]:.3f}, '
         f'non-border {d["a"]["non_border"]:.3f}', 'magma'),
        (ent_b, f'entropy B: {names[1]}\nborder {d["b"]["border"]:.3f}, '
         f'non-border {d["b"]["non_border"]:.3f}', 'magma'),
        (diff, f'A - B (blue: A more confident)\nborder '
         f'{d["diff"]["border"]:+.3f}, non-border '
         f'{d["diff"]["non_border"]:+.3f}', cmap),
    ]
    for ax, (img, title, cm) in zip(axes, items):
        if cm is None:
            ax.imshow(img, interpolation='nearest')
        elif cm == cmap:
            im = ax.imshow(
                img, cmap=cm, vmin=-vmax, vmax=vmax, interpolation='nearest')
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, shrink=0.8,
                         label='nats')
        else:
            ax.imshow(
                img, cmap=cm, vmin=0, vmax=max_entropy,
                interpolation='nearest')
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches='tight', pad_inches=0.05)
    plt.close(fig)


def _fmt(value: float, signed: bool = False) -> str:
    if math.isnan(value):
        return 'n/a'
    return f'{value:+.4f}' if signed else f'{value:.4f}'


def run(args: argparse.Namespace) -> Dict:
    """Compute, write and print; return the statistics."""
    import mmcv
    from mmseg.apis import init_model

    import rgpnet_mmseg  # noqa: F401  (registers the models)
    from rgpnet_mmseg.models.losses.label_relaxation_loss import border_mask
    from rgpnet_mmseg.utils.entropy import (diverging_heatmap,
                                            entropy_from_logits,
                                            entropy_stats, masked_mean,
                                            prediction_border_mask)

    if not osp.isfile(args.image):
        raise FileNotFoundError(f'image not found: {args.image}')
    for path in (args.config_a, args.checkpoint_a, args.config_b,
                 args.checkpoint_b):
        if not osp.isfile(path):
            raise FileNotFoundError(f'file not found: {path}')
    names = (_name(args.config_a, args.name_a),
             _name(args.config_b, args.name_b))
    image_bgr = mmcv.imread(args.image)
    h, w = image_bgr.shape[:2]
    label = None
    valid = torch.ones((h, w), dtype=torch.bool)
    if args.label:
        label_np = _read_label(args.label)
        if label_np.shape != (h, w):
            raise EntropyDiffError(
                f'the label map {args.label} is {label_np.shape[0]}x'
                f'{label_np.shape[1]}, the image is {h}x{w}')
        label = torch.from_numpy(label_np.astype(np.int64))
        valid = label != args.ignore_index

    logits, models = [], []
    for cfg, ckpt in ((args.config_a, args.checkpoint_a),
                      (args.config_b, args.checkpoint_b)):
        model = init_model(cfg, ckpt, device=args.device)
        logit = _logits(model, args.image)
        if tuple(logit.shape[-2:]) != (h, w):
            raise EntropyDiffError(
                f'{cfg}: seg_logits are {tuple(logit.shape)}, the image is '
                f'{h}x{w}')
        logits.append(logit)
        models.append(model)
    if logits[0].shape[0] != logits[1].shape[0]:
        raise EntropyDiffError(f'the models have {logits[0].shape[0]} and '
                               f'{logits[1].shape[0]} classes')
    num_classes = logits[0].shape[0]
    ent_a, ent_b = (entropy_from_logits(x, dim=0) for x in logits)
    pred_a, pred_b = (x.argmax(0) for x in logits)

    k = args.kernel_size
    if args.border_from == 'label':
        try:
            border = border_mask(
                label[None], k, ignore_index=args.ignore_index,
                num_classes=num_classes)[0]
        except ValueError as err:  # labels outside [0, C)
            raise EntropyDiffError(f'{args.label}: {err}') from None
        border_desc = f'the label map (k={k})'
    else:
        border_a = prediction_border_mask(pred_a, k, num_classes)
        border_b = prediction_border_mask(pred_b, k, num_classes)
        border = {
            'union': border_a | border_b,
            'a': border_a,
            'b': border_b
        }[args.border_from]
        border_desc = {
            'union': f'the predictions of A or B (k={k})',
            'a': f'the prediction of A (k={k})',
            'b': f'the prediction of B (k={k})'
        }[args.border_from]

    stats = entropy_stats(ent_a, ent_b, border, valid)
    diff = (ent_a - ent_b).numpy()
    if args.vmax is not None:
        vmax = float(args.vmax)
    else:
        vmax = float(np.percentile(np.abs(diff), 99))
        vmax = vmax if vmax > 1e-6 else 1e-6
    _save_rgb(args.out, diverging_heatmap(diff, vmax, args.cmap))

    max_entropy = math.log(num_classes)
    stats.update(
        image=args.image,
        label=args.label,
        size=[h, w],
        num_classes=num_classes,
        max_entropy=max_entropy,
        unit='nats',
        border_from=args.border_from,
        kernel_size=k,
        ignore_index=args.ignore_index if args.label else None,
        heatmap=args.out,
        vmax=vmax,
        cmap=args.cmap,
        models=dict(
            a=dict(name=names[0], config=args.config_a,
                   checkpoint=args.checkpoint_a),
            b=dict(name=names[1], config=args.config_b,
                   checkpoint=args.checkpoint_b)),
        pred_agreement=float((pred_a == pred_b)[valid].float().mean())
        if valid.any() else float('nan'))
    if label is not None:
        # accuracy on the same pixel sets: confident is not the same as right
        sets = dict(
            border=border & valid, non_border=valid & ~border, all=valid)
        stats['pixel_acc'] = {
            key: {
                name: masked_mean((pred == label).float(), mask)
                for name, mask in sets.items()
            }
            for key, pred in (('a', pred_a), ('b', pred_b))
        }

    if args.figure:
        image_rgb = np.ascontiguousarray(image_bgr[..., ::-1])
        palette = (models[1].dataset_meta or {}).get('palette')
        if palette is None:
            rng = np.random.default_rng(0)
            palette = rng.integers(0, 255, (num_classes, 3))
        if label is not None:
            seg = _colour_labels(label.numpy(), palette, args.ignore_index)
            seg_title = 'ground truth'
        else:
            seg = _colour_labels(pred_b.numpy(), palette, -1)
            seg_title = f'prediction of B: {names[1]}'
        _write_figure(args.figure, image_rgb, seg, seg_title, ent_a.numpy(),
                      ent_b.numpy(), diff, vmax, max_entropy, names,
                      args.cmap, stats)

    _print(stats, names, border_desc)
    if args.json:
        text = json.dumps(stats, indent=2, allow_nan=True)
        if args.json == '-':
            print(text)
        else:
            os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
            with open(args.json, 'w') as f:
                f.write(text + '\n')
    return stats


def _print(stats: Dict, names: tuple, border_desc: str) -> None:
    n_b, n_nb = stats['num_border'], stats['num_non_border']
    frac = stats['border_fraction'] * 100
    print(f'{stats["image"]} ({stats["size"][0]}x{stats["size"][1]}): mean '
          f'prediction entropy in nats (max log {stats["num_classes"]} = '
          f'{stats["max_entropy"]:.4f})')
    print(f'border pixels from {border_desc}: {n_b} border ({frac:.1f} %), '
          f'{n_nb} non-border')
    width = max(len(names[0]), len(names[1]), 5) + 4
    print(f'{"model":<{width}} {"border":>10} {"non-border":>11} '
          f'{"all":>10}')
    for key, title in (('a', f'A: {names[0]}'), ('b', f'B: {names[1]}'),
                       ('diff', 'A - B')):
        signed = key == 'diff'
        d = stats[key]
        print(f'{title:<{width}} {_fmt(d["border"], signed):>10} '
              f'{_fmt(d["non_border"], signed):>11} '
              f'{_fmt(d["all"], signed):>10}')
    if 'pixel_acc' in stats:
        print('pixel accuracy (against the label map):')
        for key, title in (('a', f'A: {names[0]}'), ('b', f'B: {names[1]}')):
            d = stats['pixel_acc'][key]
            print(f'{title:<{width}} {_fmt(d["border"]):>10} '
                  f'{_fmt(d["non_border"]):>11} {_fmt(d["all"]):>10}')
    print(f'heat map (A - B, {stats["cmap"]}, +-{stats["vmax"]:.4f} nats, '
          f'blue: A more confident): {stats["heatmap"]}')


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    from rgpnet_mmseg.utils import USER_ERRORS, user_error_message
    try:
        return run(args)
    except USER_ERRORS + (EntropyDiffError, ) as err:
        sys.exit(user_error_message(err))


if __name__ == '__main__':
    main()
