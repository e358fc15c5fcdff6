# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""``python tools/benchmark.py training`` and ``... loss``
(docs/training_benchmark.md).

``training``: ``model.train_step`` of RGPNet-R18 (``--config``: OHEM, the
config's SGD; ``ProgressiveResizeDataPreProcessor``) at the progressive
resizing scales 1/4, 1/2 and 1 with ``CrossEntropyLoss`` (CE) and with
``LabelRelaxationLoss`` (LR), same initial weights, on fresh batches of
demo street scenes of the ``--crop`` size (building them is not timed); the
total-time ratio of the paper's 15-epoch schedule (9 epochs at 1/4, 3 at
1/2, 3 at 1; same batch) against 15 full-scale epochs (theory 0.2875,
paper table 4: 0.29 with LR, 0.25 without), and LR's overhead.
``loss``: forward + backward of the two losses alone.
"""
import json
import math
import os
import os.path as osp
import statistics
from typing import Dict, Optional

SCALES = (0.25, 0.5, 1.0)
SCHEDULE = ((0.25, 9), (0.5, 3), (1.0, 3))  # (scale, epochs)
LOSSES = dict(
    CE=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    LR=dict(type='LabelRelaxationLoss', loss_weight=1.0, loss_name='loss_lr'))
SCALE_NAMES = {0.25: '1/4', 0.5: '1/2', 1.0: '1'}
RATIOS = {  # key: (title, loss, full-scale reference loss, paper)
    'pr_ce_vs_full_ce': ('PR+CE / full CE', 'CE', 'CE',
                         'paper, table 4: 27m37s / 108m44s = 0.25'),
    'pr_lr_vs_full_ce': ('PR+LR / full CE', 'LR', 'CE',
                         'paper, table 4: 31m43s / 108m44s = 0.29'),
    'pr_lr_vs_full_lr': ('PR+LR / full LR', 'LR', 'LR', ''),
}


def training_arguments(parser) -> None:
    """The options of the ``training`` mode."""
    parser.add_argument('--config', default=osp.join(
        osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
        'rgpnet_r18_cityscapes.py'), help='model and optimizer config')
    parser.add_argument('--crop', type=int, nargs=2, default=[512, 1024],
                        metavar=('H', 'W'), help='full-scale crop (512 1024)')
    parser.add_argument('--batch', type=int, default=2, help='batch (2)')
    parser.add_argument('--seed', type=int, default=0, help='weights, data')
    parser.add_argument('--json', help='also write the figures here')


def loss_arguments(parser) -> None:
    """The ``loss`` mode has only the common options."""


def theoretical_ratio(schedule=SCHEDULE) -> float:
    """The schedule's time over as many full-scale epochs, if time went
    with the pixels (scale ** 2)."""
    return sum(s * s * n for s, n in schedule) / sum(n for _, n in schedule)


def schedule_ratio(times: Dict[float, float], full: float,
                   schedule=SCHEDULE) -> float:
    """``sum(n_s * t_s) / (epochs * full)``."""
    return sum(times[s] * n for s, n in schedule) / (
        sum(n for _, n in schedule) * full)


def scene_batches(crop, batch: int, seed: int):
    """``prepare`` of the timing loop: a fresh batch of demo street scenes
    (BGR) per call; and the scenes' share of border pixels."""
    import torch
    from benchmark_zoo import make_batch
    from demo_renderer import render_sample

    from rgpnet_mmseg.models.losses import border_mask
    scenes = [render_sample(seed, 'train', i, *crop) for i in range(
        max(4, batch))]
    images = [torch.from_numpy(rgb[..., ::-1].copy()).permute(2, 0, 1)
              for rgb, _ in scenes]
    labels = [torch.from_numpy(label.astype('int64')) for _, label in scenes]
    border = float(border_mask(torch.stack(labels), 3, 255, 19).float().mean())
    count = iter(range(10**9))

    def prepare(_):
        i = next(count) * batch
        pick = [(i + k) % len(images) for k in range(batch)]
        return make_batch([images[k] for k in pick], [labels[k] for k in pick])
    return prepare, border


def run_training(args) -> int:
    """The ``training`` mode: time, print, (write ``--json``)."""
    import torch
    from benchmark_zoo import build_segmentor, load_config

    from rgpnet_mmseg.utils.timing import (describe, environment,
                                           time_round_robin)
    env = environment(args.device, args.threads)
    cfg = load_config(args.config)
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
    fns = {(s, n): lambda d, s=s, n=n: step(d, s, n)
           for s in SCALES for n in LOSSES}
    times = time_round_robin(fns, args.repeats, args.warmup, args.device,
                             prepare)
    out = report(args, times, sizes, border, env, describe)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=2)
    return 0


def report(args, times, sizes, border, env, describe) -> dict:
    """Print the tables of docs/training_benchmark.md; return the figures."""
    med = {k: statistics.median(v) for k, v in times.items()}
    rounds = range(args.repeats)

    def paired(fn):  # median over rounds of a figure within one round
        return statistics.median(fn({k: v[i] for k, v in times.items()})
                                 for i in rounds)

    def ratio(t, loss, ref):
        return schedule_ratio({s: t[(s, loss)] for s in SCALES},
                              t[(1.0, ref)])

    h, w = args.crop
    print('RGPNet-R18 training iteration: model.train_step (data '
          'preprocessor + forward + OHEM loss + backward + SGD step)')
    print(f'batch {args.batch} x 3 x {h} x {w} street scenes '
          f'({border * 100:.1f} % border pixels at full size); '
          f'{describe(env)} before')
    print(f'{args.repeats} timed round(s) after {args.warmup} warm-up '
          'round(s), each round one iteration of every (scale, loss), '
          f'round-robin\n\n{"":<17} {"CE s/iter":^15} {"LR s/iter":^15} '
          f'{"LR overhead":^15}')
    head = (f'{"scale":<6} {"input":>10} {"median":>7} {"min":>7} '
            f'{"median":>7} {"min":>7} {"medians":>7} {"paired":>7} '
            f'{"CE vs 1":>8} {"LR vs 1":>8} {"pixels":>7}')
    print(head + '\n' + '-' * len(head))
    rows = []
    for s in SCALES:
        ce, lr = med[(s, 'CE')], med[(s, 'LR')]
        rows.append(dict(
            scale=s, input=sizes[s], ce_s=ce, lr_s=lr,
            ce_min_s=min(times[(s, 'CE')]), lr_min_s=min(times[(s, 'LR')]),
            lr_overhead_pct=(lr / ce - 1) * 100,
            lr_overhead_paired_pct=paired(
                lambda t: t[(s, 'LR')] / t[(s, 'CE')] - 1) * 100,
            ce_vs_full=ce / med[(1.0, 'CE')], lr_vs_full=lr / med[(1.0, 'LR')],
            pixels_vs_full=s * s, ce_all_s=times[(s, 'CE')],
            lr_all_s=times[(s, 'LR')]))
        r = rows[-1]
        print(f'{SCALE_NAMES[s]:<6} {"x".join(map(str, sizes[s])):>10} '
              f'{ce:>7.3f} {r["ce_min_s"]:>7.3f} {lr:>7.3f} '
              f'{r["lr_min_s"]:>7.3f} {r["lr_overhead_pct"]:>+6.1f}% '
              f'{r["lr_overhead_paired_pct"]:>+6.1f}% {r["ce_vs_full"]:>8.4f} '
              f'{r["lr_vs_full"]:>8.4f} {s * s:>7.4f}')
    ratios = {k: ratio(med, loss, ref) for k, (_, loss, ref, _) in
              RATIOS.items()}
    ratios_paired = {k: paired(lambda t: ratio(t, loss, ref))
                     for k, (_, loss, ref, _) in RATIOS.items()}
    print('\nTotal time of the 15-epoch schedule (9 epochs at 1/4, 3 at 1/2, '
          '3 at 1) / 15 epochs at full scale, same batch:\n  ratio '
          'theoretical (pixels): 1/16*9/15 + 1/4*3/15 + 3/15 = '
          f'{theoretical_ratio():.4f}\n  {"":<34} {"medians":>7} '
          f'{"paired":>7}')
    for key, (title, _, _, paper) in RATIOS.items():
        print(f'  {"ratio measured, " + title + ":":<34} {ratios[key]:>7.4f} '
              f'{ratios_paired[key]:>7.4f}' + (f'   ({paper})' if paper
                                              else ''))
    overhead = (ratios['pr_lr_vs_full_ce'] / ratios['pr_ce_vs_full_ce'] -
                1) * 100
    overhead_paired = paired(lambda t: ratio(t, 'LR', 'CE') / ratio(
        t, 'CE', 'CE') - 1) * 100
    print(f'  {"LR overhead on the PR schedule:":<34} {overhead:>+6.1f}% '
          f'{overhead_paired:>+6.1f}%   (paper: 31m43s / 27m37s = +14.8 %)\n'
          'medians: from the median time of each (scale, loss); paired: '
          'median over the rounds of the figure computed within one round')
    return dict(config=args.config, crop=list(args.crop), batch=args.batch,
                iters=args.repeats, warmup=args.warmup, env=env,
                border_fraction=border, rows=rows,
                ratio_theoretical=theoretical_ratio(), ratios=ratios,
                ratios_paired=ratios_paired,
                lr_overhead_pr_schedule_pct=overhead,
                lr_overhead_pr_schedule_paired_pct=overhead_paired)


def make_label(kind: str, shape, generator):
    """(N, H, W) labels: ``'noise'``, a random class per pixel (all
    border); ``'regions'``, an 8 x 16 grid of classes with wavy boundaries
    and an ignored band at the top (6 % border pixels at 512x1024)."""
    import torch
    import torch.nn.functional as F
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


def run_loss(args, shapes=((2, 19, 128, 256), (2, 19, 512, 1024))
             ) -> Optional[int]:
    """The ``loss`` mode: forward + backward of mmseg's CrossEntropyLoss
    and LabelRelaxationLoss on logits at 1/4 of a 512x1024 crop and at the
    crop's size (as ``loss_by_feat`` upsamples them)."""
    import torch
    from mmseg.models.losses import CrossEntropyLoss

    from rgpnet_mmseg.models.losses import LabelRelaxationLoss, border_mask
    from rgpnet_mmseg.utils.timing import (describe, environment,
                                           time_round_robin)
    print(f'{describe(environment(args.device, args.threads))}; median of '
          f'{args.repeats} after {args.warmup} warm-up, round-robin')
    head = (f'{"logits shape":<20} {"labels":<8} {"border %":>8} '
            f'{"CE ms":>9} {"LR ms":>9} {"LR/CE":>6} {"LR-CE ms":>9}')
    print(head + '\n' + '-' * len(head))
    gen, ce_loss, lr_loss = (torch.Generator().manual_seed(0),
                             CrossEntropyLoss(), LabelRelaxationLoss())
    for shape in shapes:
        logits = torch.randn(shape, generator=gen).to(args.device)
        logits.requires_grad_()
        for kind in ('regions', 'noise'):
            label = make_label(kind, shape, gen).to(args.device)

            def fn(loss, label=label):
                logits.grad = None
                loss(logits, label, ignore_index=255).backward()
            times = time_round_robin(
                dict(CE=lambda: fn(ce_loss), LR=lambda: fn(lr_loss)),
                args.repeats, args.warmup, args.device)
            ce, lr = (statistics.median(times[k]) * 1e3 for k in ('CE', 'LR'))
            border = border_mask(label, 3, 255).float().mean().item() * 100
            print(f'{str(tuple(shape)):<20} {kind:<8} {border:>8.1f} '
                  f'{ce:>9.2f} {lr:>9.2f} {lr / ce:>6.2f} {lr - ce:>9.2f}')
