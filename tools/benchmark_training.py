# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Training-iteration time of RGPNet-R18 with progressive resizing, with
cross-entropy and with label relaxation (paper sec. 4.4, table 4).

    python tools/benchmark_training.py [--iters 5] [--warmup 1]
        [--threads N] [--crop 512 1024] [--batch 2] [--device cpu]
        [--config configs/rgpnet_r18_cityscapes.py] [--json out.json]

The model is the one of ``--config`` (RGPNet-R18, ResNet-18 encoder,
OHEM (0.6, 5000), SGD) with SyncBN replaced by BN, no pretrained weights,
and ``ProgressiveResizeDataPreProcessor`` as its data preprocessor; one
copy trains with the config's ``CrossEntropyLoss``, one with
``LabelRelaxationLoss``. An iteration is
``model.train_step(data, optim_wrapper)`` with a real mmengine
``OptimWrapper`` (SGD, momentum 0.9, weight decay 1e-4): data preprocessor
(normalise, stack/pad, resize the batch by ``train_scale`` as in
training), forward, OHEM-sampled loss, backward and the SGD step. Each
iteration gets a fresh batch of ``--batch`` ``SegDataSample``s holding
street scenes of the ``--crop`` size (images and label maps drawn by the
demo-data generator, ``render_sample``: about 4 % border pixels at
512x1024), as the dataloader would give them; building the batch is not
timed.

The six (scale, loss) combinations for scales 1/4, 1/2 and 1 alternate
within each round, so load from other processes hits them alike; the
table gives the median of ``--iters`` rounds after ``--warmup`` rounds.
From the medians it prints the total-time ratio of the paper's 15-epoch
"green AI" schedule (9 epochs at 1/4, 3 at 1/2, 3 at 1; the batch and so
the iterations per epoch stay the same) against 15 epochs at full scale,
next to the theoretical 1/16*9/15 + 1/4*3/15 + 3/15 = 0.2875 (paper,
table 4: 31m43s / 108m44s = 0.29 with label relaxation, 27m37s / 108m44s
= 0.25 without), and the label-relaxation overhead at each scale.
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import platform
import statistics
import sys
import time
from typing import Dict, List, Optional, Sequence

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

SCALES = (0.25, 0.5, 1.0)
# the paper's green-AI run: 15 epochs, 1/4 until epoch 10, 1/2 until 13
SCHEDULE = ((0.25, 9), (0.5, 3), (1.0, 3))
LOSSES = {
    'CE': dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    'LR': dict(type='LabelRelaxationLoss', loss_weight=1.0,
               loss_name='loss_lr'),
}
SCALE_NAMES = {0.25: '1/4', 0.5: '1/2', 1.0: '1'}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Time RGPNet-R18 training iterations at scale 1/4, 1/2 '
        'and 1 with cross-entropy and label relaxation')
    parser.add_argument(
        '--config',
        default=osp.join(ROOT, 'configs', 'rgpnet_r18_cityscapes.py'),
        help='model/optimizer config (default: '
        'configs/rgpnet_r18_cityscapes.py)')
    parser.add_argument(
        '--crop',
        type=int,
        nargs=2,
        default=[512, 1024],
        metavar=('H', 'W'),
        help='full-scale training crop (default: 512 1024)')
    parser.add_argument(
        '--batch', type=int, default=2, help='images per batch (default: 2)')
    parser.add_argument(
        '--iters',
        type=int,
        default=5,
        help='timed iterations per (scale, loss) (default: 5)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=1,
        help='untimed iterations per (scale, loss) first (default: 1)')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads (default: torch\'s choice)')
    parser.add_argument('--device', default='cpu', help='device (cpu, cuda)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of weights and data')
    parser.add_argument('--json', help='also write the results to this file')
    args = parser.parse_args(argv)
    if args.iters < 1:
        parser.error('--iters must be >= 1')
    if args.warmup < 0:
        parser.error('--warmup must be >= 0')
    if args.batch < 1 or min(args.crop) < 1:
        parser.error('--batch and --crop must be positive')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    return args


def theoretical_ratio(schedule=SCHEDULE) -> float:
    """Time of the schedule over the same epochs at full scale, if time
    went with the number of pixels (scale**2)."""
    epochs = sum(n for _, n in schedule)
    return sum(s * s * n for s, n in schedule) / epochs


def schedule_ratio(times: Dict[float, float],
                   full: Optional[float] = None,
                   schedule=SCHEDULE) -> float:
    """Measured ratio: ``sum(n_s * t_s) / (epochs * t_full)``, with
    ``t_full`` the full-scale time of the reference (default: ``times``'
    own)."""
    epochs = sum(n for _, n in schedule)
    full = times[1.0] if full is None else full
    return sum(times[s] * n for s, n in schedule) / (epochs * full)


def _replace_type(cfg, old: str, new: str):
    """Replace ``type=old`` by ``type=new`` in a nested config."""
    if isinstance(cfg, dict):
        if cfg.get('type') == old:
            cfg['type'] = new
        for value in cfg.values():
            _replace_type(value, old, new)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _replace_type(value, old, new)
    return cfg


def build_models(config: str, crop: Sequence[int], device: torch.device,
                 seed: int) -> Dict[str, tuple]:
    """``{'CE': (model, optim_wrapper), 'LR': (...)}``, same initial
    weights."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules

    import rgpnet_mmseg  # noqa: F401  (RGPHead, the loss, the preprocessor)
    register_all_modules(init_default_scope=False)
    if DefaultScope.get_current_instance() is None:
        DefaultScope.get_instance('benchmark_training', scope_name='mmseg')
    cfg = Config.fromfile(config)
    model_cfg = copy.deepcopy(cfg.model)
    _replace_type(model_cfg, 'SyncBN', 'BN')
    model_cfg.pretrained = None
    if 'init_cfg' in model_cfg.backbone:
        model_cfg.backbone.init_cfg = None
    model_cfg.data_preprocessor.type = 'ProgressiveResizeDataPreProcessor'
    model_cfg.data_preprocessor.size = tuple(crop)
    models = {}
    for name, loss in LOSSES.items():
        model_cfg.decode_head.loss_decode = copy.deepcopy(loss)
        torch.manual_seed(seed)
        model = MODELS.build(model_cfg).to(device).train()
        optim_wrapper = build_optim_wrapper(model,
                                            copy.deepcopy(cfg.optim_wrapper))
        models[name] = (model, optim_wrapper)
    return models


class SceneBatches:
    """Fresh batches of street scenes, as the dataloader gives them after
    ``PackSegInputs``: a list of (3, H, W) uint8 BGR images and
    ``SegDataSample``s with a (1, H, W) int64 ``gt_sem_seg``."""

    def __init__(self, crop: Sequence[int], batch: int, seed: int,
                 num_scenes: int = 4) -> None:
        from rgpnet_mmseg.datasets.demo_data import render_sample
        h, w = crop
        self.crop = (h, w)
        self.batch = batch
        self.scenes = []
        for index in range(max(num_scenes, batch)):
            rgb, label = render_sample(seed, 'train', index, h, w)
            image = torch.from_numpy(rgb[..., ::-1].copy()).permute(2, 0, 1)
            self.scenes.append((image.contiguous(),
                                torch.from_numpy(label.astype('int64'))))
        self._next = 0

    def border_fraction(self) -> float:
        from rgpnet_mmseg.models.losses.label_relaxation_loss import \
            border_mask
        labels = torch.stack([label for _, label in self.scenes])
        return float(border_mask(labels, 3, 255, 19).float().mean())

    def __call__(self) -> dict:
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        inputs, samples = [], []
        h, w = self.crop
        for _ in range(self.batch):
            image, label = self.scenes[self._next % len(self.scenes)]
            self._next += 1
            sample = SegDataSample()
            sample.gt_sem_seg = PixelData(data=label[None].clone())
            sample.set_metainfo(
                dict(
                    img_path='benchmark.png',
                    seg_map_path='benchmark_label.png',
                    ori_shape=(h, w),
                    img_shape=(h, w),
                    scale_factor=(1.0, 1.0),
                    flip=False,
                    flip_direction=None,
                    reduce_zero_label=False))
            inputs.append(image.clone())
            samples.append(sample)
        return dict(inputs=inputs, data_samples=samples)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def run_benchmark(args: argparse.Namespace) -> Dict:
    device = torch.device(args.device)
    models = build_models(args.config, args.crop, device, args.seed)
    batches = SceneBatches(args.crop, args.batch, args.seed)
    combos = [(scale, name) for scale in SCALES for name in models]
    # the size the backbone actually gets (after the preprocessor's resize)
    seen = {}
    for name, (model, _) in models.items():
        model.backbone.register_forward_pre_hook(
            lambda module, inputs, name=name: seen.__setitem__(
                name, tuple(inputs[0].shape)))
    times = {combo: [] for combo in combos}
    input_sizes = {}
    losses = {}
    load_before = os.getloadavg() if hasattr(os, 'getloadavg') else None
    start_all = time.perf_counter()
    names = list(models)
    for round_ in range(args.warmup + args.iters):
        # CE, LR at each scale in turn, the order of the two swapped every
        # round, so that slow drifts of the load hit both alike
        order = names if round_ % 2 == 0 else names[::-1]
        for scale, name in [(s, n) for s in SCALES for n in order]:
            model, optim_wrapper = models[name]
            model.data_preprocessor.train_scale = scale
            data = batches()
            _sync(device)
            start = time.perf_counter()
            log_vars = model.train_step(data, optim_wrapper)
            _sync(device)
            elapsed = time.perf_counter() - start
            if round_ >= args.warmup:
                times[(scale, name)].append(elapsed)
            loss = float(torch.as_tensor(log_vars['loss']).detach())
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f'non-finite loss {loss} at scale {scale} with {name}')
            losses[(scale, name)] = loss
            input_sizes[scale] = seen[name]
    total = time.perf_counter() - start_all
    load_after = os.getloadavg() if hasattr(os, 'getloadavg') else None
    median = {
        combo: statistics.median(ts)
        for combo, ts in times.items()
    }
    return dict(
        times=times,
        median=median,
        input_sizes=input_sizes,
        losses=losses,
        border_fraction=batches.border_fraction(),
        load_before=load_before,
        load_after=load_after,
        total_s=total,
        device=str(device))


def _paired(res: Dict, fn) -> float:
    """Median over the timed rounds of ``fn(t)``, with ``t[(scale, loss)]``
    the times of one round (the combinations of a round ran seconds apart,
    so a change of the load between rounds cancels out)."""
    rounds = len(next(iter(res['times'].values())))
    return statistics.median(
        fn({combo: ts[i]
            for combo, ts in res['times'].items()}) for i in range(rounds))


def report(args: argparse.Namespace, res: Dict) -> Dict:
    """Print the tables; return the figures as a JSON-able dict."""
    med = res['median']
    low = {combo: min(ts) for combo, ts in res['times'].items()}
    h, w = args.crop
    threads = torch.get_num_threads()
    load = ('' if res['load_before'] is None else
            f'; load average (1 min) {res["load_before"][0]:.2f} before, '
            f'{res["load_after"][0]:.2f} after')
    cpu = platform.processor() or platform.machine()
    print('RGPNet-R18 training iteration: model.train_step (data '
          'preprocessor + forward + OHEM loss + backward + SGD step)')
    print(f'batch {args.batch} x 3 x {h} x {w} street scenes '
          f'({res["border_fraction"] * 100:.1f} % border pixels at full '
          f'size), {res["device"]} ({cpu}, {os.cpu_count()} cores), torch '
          f'{torch.__version__}, {threads} thread(s)')
    print(f'{args.iters} timed round(s) after {args.warmup} warm-up '
          f'round(s), each round one iteration of every (scale, loss); '
          f'whole run {res["total_s"]:.0f} s{load}')
    print()
    header = (f'{"":<17} {"CE s/iter":^15} {"LR s/iter":^15} '
              f'{"LR overhead":^15}')
    header2 = (f'{"scale":<6} {"input":>10} {"median":>7} {"min":>7} '
               f'{"median":>7} {"min":>7} {"medians":>7} {"paired":>7} '
               f'{"CE vs 1":>8} {"LR vs 1":>8} {"pixels":>7}')
    print(header.rstrip())
    print(header2)
    print('-' * len(header2))
    rows = []
    for scale in SCALES:
        t_ce, t_lr = med[(scale, 'CE')], med[(scale, 'LR')]
        ih, iw = res['input_sizes'][scale][-2:]
        overhead = (t_lr - t_ce) / t_ce * 100
        paired = _paired(
            res, lambda t, s=scale: t[(s, 'LR')] / t[(s, 'CE')] - 1) * 100
        row = dict(
            scale=scale,
            input=[ih, iw],
            ce_s=t_ce,
            lr_s=t_lr,
            ce_min_s=low[(scale, 'CE')],
            lr_min_s=low[(scale, 'LR')],
            lr_overhead_pct=overhead,
            lr_overhead_paired_pct=paired,
            ce_vs_full=t_ce / med[(1.0, 'CE')],
            lr_vs_full=t_lr / med[(1.0, 'LR')],
            pixels_vs_full=scale * scale,
            ce_all_s=res['times'][(scale, 'CE')],
            lr_all_s=res['times'][(scale, 'LR')])
        rows.append(row)
        print(f'{SCALE_NAMES[scale]:<6} {f"{ih}x{iw}":>10} {t_ce:>7.3f} '
              f'{row["ce_min_s"]:>7.3f} {t_lr:>7.3f} {row["lr_min_s"]:>7.3f} '
              f'{overhead:>+6.1f}% {paired:>+6.1f}% '
              f'{row["ce_vs_full"]:>8.4f} {row["lr_vs_full"]:>8.4f} '
              f'{scale * scale:>7.4f}')
    theory = theoretical_ratio()

    def times_of(t, loss):
        return {s: t[(s, loss)] for s in SCALES}

    definitions = {
        'pr_ce_vs_full_ce': ('PR+CE / full CE', 'CE', 'CE',
                             'paper, table 4: 27m37s / 108m44s = 0.25'),
        'pr_lr_vs_full_ce': ('PR+LR / full CE', 'LR', 'CE',
                             'paper, table 4: 31m43s / 108m44s = 0.29'),
        'pr_lr_vs_full_lr': ('PR+LR / full LR', 'LR', 'LR', ''),
    }
    ratios, ratios_paired = {}, {}
    for key, (_, loss, ref, _) in definitions.items():
        ratios[key] = schedule_ratio(
            times_of(med, loss), med[(1.0, ref)])
        ratios_paired[key] = _paired(
            res, lambda t, loss=loss, ref=ref: schedule_ratio(
                times_of(t, loss), t[(1.0, ref)]))
    print()
    print('Total time of the 15-epoch schedule (9 epochs at 1/4, 3 at 1/2, '
          '3 at 1) / 15 epochs at full scale, same batch:')
    print(f'  ratio theoretical (pixels): 1/16*9/15 + 1/4*3/15 + 3/15 = '
          f'{theory:.4f}')
    print(f'  {"":<34} {"medians":>7} {"paired":>7}')
    for key, (title, _, _, paper) in definitions.items():
        note = f'   ({paper})' if paper else ''
        print(f'  {"ratio measured, " + title + ":":<34} '
              f'{ratios[key]:>7.4f} {ratios_paired[key]:>7.4f}{note}')
    pr_overhead = (ratios['pr_lr_vs_full_ce'] / ratios['pr_ce_vs_full_ce'] -
                   1) * 100
    # total PR time with LR over total PR time with CE
    pr_overhead_paired = _paired(
        res, lambda t: schedule_ratio(times_of(t, 'LR'), t[
            (1.0, 'CE')]) / schedule_ratio(times_of(t, 'CE')) - 1) * 100
    print(f'  {"LR overhead on the PR schedule:":<34} '
          f'{pr_overhead:>+6.1f}% {pr_overhead_paired:>+6.1f}%   (paper: '
          '31m43s / 27m37s = +14.8 %)')
    print('medians: from the median time of each (scale, loss); paired: '
          'median over the rounds of the figure computed within one round')
    return dict(
        config=args.config,
        crop=list(args.crop),
        batch=args.batch,
        iters=args.iters,
        warmup=args.warmup,
        threads=threads,
        device=res['device'],
        torch=torch.__version__,
        border_fraction=res['border_fraction'],
        load_before=res['load_before'],
        load_after=res['load_after'],
        total_s=res['total_s'],
        rows=rows,
        ratio_theoretical=theory,
        ratios=ratios,
        ratios_paired=ratios_paired,
        lr_overhead_pr_schedule_pct=pr_overhead,
        lr_overhead_pr_schedule_paired_pct=pr_overhead_paired)


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import warnings
    warnings.filterwarnings('ignore', message='Default ``avg_non_ignore``')
    warnings.filterwarnings(
        'ignore', message='``build_.*`` would be deprecated')
    res = run_benchmark(args)
    out = report(args, res)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(out, f, indent=2)
    return out


if __name__ == '__main__':
    main()
