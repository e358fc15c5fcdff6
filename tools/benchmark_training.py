# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""``python tools/benchmark.py training`` (training speed at the progressive
resizing scales, CE vs label relaxation, the schedule ratio) and ``loss``
(the two losses alone): docs/training_benchmark.md; the model builders."""
import copy
import itertools
import json
import math
import os
import os.path as osp
import statistics
import warnings
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.models.losses import CrossEntropyLoss
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from rgpnet_mmseg.models.losses import LabelRelaxationLoss, border_mask
from rgpnet_mmseg.utils.cpu_config import without_syncbn_and_pretrained
from rgpnet_mmseg.utils.timing import environment, table, time_round_robin

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SCALES = (0.25, 0.5, 1.0)
SCHEDULE = ((0.25, 9), (0.5, 3), (1.0, 3))  # (scale, epochs)
LOSSES = dict(
    CE=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    LR=dict(type='LabelRelaxationLoss', loss_weight=1.0, loss_name='loss_lr'))
RATIOS = (  # title, loss, loss of the full-scale reference, paper
    ('PR+CE / full CE', 'CE', 'CE', 'table 4: 27m37s / 108m44s = 0.25'),
    ('PR+LR / full CE', 'LR', 'CE', 'table 4: 31m43s / 108m44s = 0.29'),
    ('PR+LR / full LR', 'LR', 'LR', '-'))


def training_arguments(parser) -> None:
    """The options of the ``training`` mode."""
    add = parser.add_argument
    add('--config', default=osp.join(REPO, 'configs/rgpnet_r18_cityscapes.py'),
        help='model and optimizer (configs/rgpnet_r18_cityscapes.py)')
    add('--crop', type=int, nargs=2, default=[512, 1024], metavar=('H', 'W'),
        help='full-scale crop (512 1024)')
    add('--batch', type=int, default=2, help='images per batch (2)')
    add('--json', help='also write all figures and times here')


def build_segmentor(cfg, train_shape: Optional[Sequence[int]] = None):
    """A config's model, random weights, BN for SyncBN: the inference network
    (no auxiliary heads, as ``get_flops.py``) in eval mode with random BN
    statistics (a real test of folding BN); with ``train_shape``,
    ``(model, optim_wrapper)`` for that crop."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = without_syncbn_and_pretrained(copy.deepcopy(cfg.model))
    if train_shape is not None:
        model_cfg.data_preprocessor['size'] = tuple(train_shape)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(model_cfg)
        if train_shape is not None:
            return model.train(), build_optim_wrapper(
                model, copy.deepcopy(cfg.optim_wrapper))
    model.auxiliary_head = None
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            for t, low in ((m.running_mean, -.5), (m.running_var, .5),
                           (m.weight, .5), (m.bias, -.5)):
                torch.nn.init.uniform_(t, low, low + 1)
    return model.eval().requires_grad_(False)


def make_batch(images: Sequence, labels: Sequence) -> Dict[str, list]:
    """A fresh batch as ``PackSegInputs`` gives it from (3, H, W) uint8
    images and (H, W) labels (and an edge map for PIDNet's loss)."""
    samples = []
    for label in labels:
        label, hw = label.reshape(1, *label.shape[-2:]), label.shape[-2:]
        samples.append(SegDataSample(metainfo=dict(
            img_shape=hw, ori_shape=hw, pad_shape=hw)))
        samples[-1].gt_sem_seg = PixelData(data=label.clone())
        samples[-1].gt_edge_map = PixelData(data=label % 2)
    return dict(inputs=[i.clone() for i in images], data_samples=samples)


def theoretical_ratio(schedule=SCHEDULE) -> float:
    """The schedule's time over as many full-scale epochs, if time went
    with the pixels: 1/16*9/15 + 1/4*3/15 + 3/15 = 0.2875."""
    return sum(s * s * n for s, n in schedule) / sum(n for _, n in schedule)


def schedule_ratio(times, full: float, schedule=SCHEDULE) -> float:
    """Measured: ``sum(epochs_s * times[s]) / (epochs * full)``."""
    return sum(times[s] * n for s, n in schedule) / (
        sum(n for _, n in schedule) * full)


def scene_batches(crop, batch: int, seed: int):
    """The timing loop's ``prepare``: a fresh batch of demo street scenes
    (BGR) per call; and their share of border pixels."""
    from make_demo_data import render_sample
    scenes = [render_sample(seed, 'train', i, *crop)
              for i in range(max(4, batch))]
    images = [torch.from_numpy(rgb[..., ::-1].copy()).permute(2, 0, 1)
              for rgb, _ in scenes]
    labels = [torch.from_numpy(label.astype('int64')) for _, label in scenes]
    border = border_mask(torch.stack(labels), 3, 255, 19).float().mean()
    calls = itertools.count()

    def prepare(_):
        first = next(calls) * batch
        pick = [(first + k) % len(images) for k in range(batch)]
        return make_batch([images[k] for k in pick], [labels[k] for k in pick])
    return prepare, float(border)


def run_training(args) -> int:
    """The ``training`` mode."""
    env, cfg = environment(args.device, args.threads), Config.fromfile(
        args.config)
    cfg.model.data_preprocessor.type = 'ProgressiveResizeDataPreProcessor'
    models, seen, sizes = {}, {}, {}
    for name, loss in LOSSES.items():
        cfg.model.decode_head.loss_decode = loss
        torch.manual_seed(args.seed)
        model, optim = build_segmentor(cfg, args.crop)
        models[name] = model.to(args.device), optim
        model.backbone.register_forward_pre_hook(  # the size it really gets
            lambda _, inputs, n=name: seen.__setitem__(n, inputs[0].shape))

    def step(data, scale, name):
        model, optim = models[name]
        model.data_preprocessor.train_scale = scale
        loss = model.train_step(data, optim)['loss'].item()
        if not math.isfinite(loss):
            raise FloatingPointError(f'loss {loss} at {scale} with {name}')
        sizes[scale] = list(seen[name][-2:])

    prepare, border = scene_batches(args.crop, args.batch, args.seed)
    times = time_round_robin({(s, n): lambda d, s=s, n=n: step(d, s, n)
                              for s in SCALES for n in LOSSES}, args.repeats,
                             args.warmup, args.device, prepare)
    result = report(args, times, sizes, border, env)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return 0


def report(args, times, sizes, border: float, env) -> dict:
    """Print the two tables of docs/training_benchmark.md; return them with
    the raw times. "medians": from each (scale, loss)'s median time;
    "paired": the median over the rounds of the figure within a round."""
    med = {k: statistics.median(v) for k, v in times.items()}

    def paired(fn):
        return statistics.median(fn({k: v[i] for k, v in times.items()})
                                 for i in range(args.repeats))

    def ratio(t, loss, ref):
        return schedule_ratio({s: t[(s, loss)] for s in SCALES},
                              t[(1.0, ref)])

    def overhead(t):  # of LR over CE on the whole PR schedule
        return (ratio(t, 'LR', 'CE') / ratio(t, 'CE', 'CE') - 1) * 100

    scales = [[
        {0.25: '1/4', 0.5: '1/2', 1.0: '1'}[s], 'x'.join(map(str, sizes[s])),
        *(f'{v:.3f}' for v in (med[(s, 'CE')], min(times[(s, 'CE')]),
                               med[(s, 'LR')], min(times[(s, 'LR')]))),
        f'{(med[(s, "LR")] / med[(s, "CE")] - 1) * 100:+.1f} %',
        f'{paired(lambda t: t[(s, "LR")] / t[(s, "CE")] - 1) * 100:+.1f} %',
        *(f'{v:.4f}' for v in (med[(s, 'CE')] / med[(1.0, 'CE')],
                               med[(s, 'LR')] / med[(1.0, 'LR')], s * s))
    ] for s in SCALES]
    ratios = [['theoretical (pixels): 1/16*9/15 + 1/4*3/15 + 3/15',
               f'{theoretical_ratio():.4f}', '-', '0.2875']] + [[
                   f'measured, {title}', f'{ratio(med, loss, ref):.4f}',
                   f'{paired(lambda t: ratio(t, loss, ref)):.4f}', paper]
                   for title, loss, ref, paper in RATIOS] + [[
                       'LR overhead on the PR schedule',
                       f'{overhead(med):+.1f} %', f'{paired(overhead):+.1f} %',
                       '31m43s / 27m37s = +14.8 %']]
    print('\n'.join([
        'RGPNet-R18 training iteration: `model.train_step` (data '
        'preprocessor + forward + OHEM loss + backward + SGD step), batch '
        f'{args.batch} x 3 x {args.crop[0]} x {args.crop[1]} street scenes '
        f'({border * 100:.1f} % border pixels); {env["line"]} at the start; '
        f'{args.repeats} timed round(s) after {args.warmup} warm-up, each '
        'one iteration of every (scale, loss), round-robin.'] + table(
            'scale | input | CE s/iter median | CE min | LR s/iter median | '
            'LR min | LR overhead (medians) | LR overhead (paired) | CE vs 1 '
            '| LR vs 1 | pixels', scales) + [
            '', 'Total time of the 15-epoch schedule (9 epochs at 1/4, 3 at '
            '1/2, 3 at 1) / 15 epochs at full scale, same batch:'] + table(
            'ratio | medians | paired | paper', ratios)))
    return dict(config=args.config, crop=args.crop, batch=args.batch,
                env=env, border_fraction=border, scales=scales,
                ratios=ratios, times={f'{s} {n}': t
                                      for (s, n), t in times.items()})


def make_label(kind: str, shape, generator):
    """(N, H, W) labels: ``'noise'``, a random class per pixel (all border
    pixels); ``'regions'``, an 8 x 16 grid of classes with wavy borders and
    an ignored band at the top (6 % border pixels at 512x1024)."""
    n, c, h, w = shape
    if kind == 'noise':
        return torch.randint(0, c, (n, h, w), generator=generator)
    low = torch.randint(0, c, (n, 1, 8, 16), generator=generator).float()
    label = F.interpolate(low, size=(h, w), mode='nearest')[:, 0].long()
    rows = torch.arange(h, dtype=torch.float32)
    shift = (h / 32 * torch.sin(rows * (8 * math.pi / h))).round().long()
    cols = (torch.arange(w)[None, :] + shift[:, None]).clamp(0, w - 1)
    label = label.gather(2, cols[None].expand(n, h, w).contiguous())
    label[:, :h // 16] = 255
    return label


def run_loss(args, shapes=((2, 19, 128, 256), (2, 19, 512, 1024))) -> int:
    """The ``loss`` mode: forward + backward of mmseg's ``CrossEntropyLoss``
    and ``LabelRelaxationLoss`` on logits at 1/4 of a 512x1024 crop and at
    its full size (as ``loss_by_feat`` upsamples them)."""
    gen, rows = torch.Generator().manual_seed(0), []
    losses = dict(CE=CrossEntropyLoss(), LR=LabelRelaxationLoss())
    for shape in shapes:
        logits = torch.randn(shape, generator=gen).to(args.device)
        logits.requires_grad_()
        for kind in ('regions', 'noise'):
            label = make_label(kind, shape, gen).to(args.device)

            def step(loss, label=label):
                logits.grad = None
                loss(logits, label, ignore_index=255).backward()
            times = time_round_robin(
                {k: lambda f=f: step(f) for k, f in losses.items()},
                args.repeats, args.warmup, args.device)
            ce, lr = (statistics.median(times[k]) * 1e3 for k in losses)
            border = border_mask(label, 3, 255).float().mean().item()
            rows.append([tuple(shape), kind, f'{border * 100:.1f}',
                         f'{ce:.2f}', f'{lr:.2f}', f'{lr / ce:.2f}',
                         f'{lr - ce:.2f}'])
    print('\n'.join([
        f'{environment(args.device, args.threads)["line"]}; median of '
        f'{args.repeats} after {args.warmup} warm-up, round-robin'] + table(
            'logits shape | labels | border % | CE ms | LR ms | LR/CE | '
            'LR-CE ms', rows)))
    return 0
