# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Forward+backward time of mmseg's CrossEntropyLoss vs LabelRelaxationLoss.

Prints a table (median of ``--runs`` timed runs after one warm-up) for
logits of shape (2, 19, 128, 256) and (2, 19, 512, 1024) (the 1/4-resolution
output of a 512x1024 crop, and the same upsampled to label size, as mmseg's
``loss_by_feat`` does), on two label maps each:

* ``regions``: piecewise-constant map (random 8 x 16 grid of labels,
  nearest-upsampled, boundaries made wavy) with an ignored band: 6 % border
  pixels at 512x1024 (the paper reports 2.4 % on Cityscapes);
* ``noise``: independent random label per pixel, i.e. every pixel a border
  pixel (the worst case).

With ``--model`` it also times one RGPNet-R18 training iteration (forward,
OHEM-sampled loss, backward; BN instead of SyncBN, random weights) on a
(2, 3, 512, 1024) batch with each loss, to relate the difference to the
"at most 5 % of an iteration" budget.

Example::

    python tools/benchmark_label_relaxation.py --runs 7
    python tools/benchmark_label_relaxation.py --device cuda --model
"""
import argparse
import os.path as osp
import statistics
import sys
import time
import warnings
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

IGNORE = 255


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_interleaved(fns: Sequence[Callable[[], None]], runs: int,
                     device: torch.device) -> List[float]:
    """Median wall time in ms of each of ``fns`` over ``runs`` rounds (after
    one warm-up round); the functions alternate within a round, so load from
    other processes hits them alike."""
    times: List[List[float]] = [[] for _ in fns]
    for round_ in range(runs + 1):
        for fn, ts in zip(fns, times):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            if round_:
                ts.append((time.perf_counter() - start) * 1e3)
    return [statistics.median(ts) for ts in times]


def make_label(kind: str, n: int, h: int, w: int, num_classes: int,
               generator: torch.Generator) -> torch.Tensor:
    """A (n, h, w) label map, see the module docstring."""
    if kind == 'noise':
        return torch.randint(0, num_classes, (n, h, w), generator=generator)
    # regions of about h/8 x h/8 (64 px at 512 rows), with gently wavy
    # (not axis-aligned) boundaries
    low = torch.randint(
        0, num_classes, (n, 1, 8, 16), generator=generator).float()
    label = F.interpolate(low, size=(h, w), mode='nearest')[:, 0].long()
    rows = torch.arange(h, dtype=torch.float32)
    shift = (h / 32 * torch.sin(rows * (8 * torch.pi / h))).round().long()
    cols = (torch.arange(w)[None, :] + shift[:, None]).clamp(0, w - 1)
    label = label.gather(2, cols[None].expand(n, h, w).contiguous())
    label[:, :h // 16] = IGNORE  # e.g. the ego vehicle / unlabeled band
    return label


def bench_losses(shapes: Sequence[Tuple[int, int, int, int]], runs: int,
                 device: torch.device) -> Dict[tuple, Tuple[float, float]]:
    """Print the table; return ``{(shape, labels): (ce_ms, lr_ms)}``."""
    from mmseg.models.losses import CrossEntropyLoss

    from rgpnet_mmseg.models.losses import LabelRelaxationLoss, border_mask
    ce = CrossEntropyLoss()
    lr = LabelRelaxationLoss()
    gen = torch.Generator().manual_seed(0)
    header = (f'{"logits shape":<20} {"labels":<8} {"border %":>8} '
              f'{"CE ms":>9} {"LR ms":>9} {"LR/CE":>6} {"LR-CE ms":>9}')
    print(header)
    print('-' * len(header))
    results = {}
    for shape in shapes:
        n, c, h, w = shape
        logits = torch.randn(shape, generator=gen).to(device)
        logits.requires_grad_()
        for kind in ('regions', 'noise'):
            label = make_label(kind, n, h, w, c, gen).to(device)
            frac = border_mask(label, 3, IGNORE).float().mean().item() * 100

            def run(loss_fn):

                def fn():
                    logits.grad = None
                    loss_fn(logits, label, ignore_index=IGNORE).backward()

                return fn

            t_ce, t_lr = time_interleaved([run(ce), run(lr)], runs, device)
            results[(shape, kind)] = (t_ce, t_lr)
            print(f'{str(tuple(shape)):<20} {kind:<8} {frac:>8.1f} '
                  f'{t_ce:>9.2f} {t_lr:>9.2f} {t_lr / t_ce:>6.2f} '
                  f'{t_lr - t_ce:>9.2f}')
    return results


def bench_model(runs: int, device: torch.device) -> float:
    """Print RGPNet-R18 iteration times; return the CE one in ms."""
    from mmengine.config import Config
    from mmengine.structures import PixelData
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample
    from mmseg.utils import register_all_modules

    import rgpnet_mmseg  # noqa: F401  (registers RGPHead and the loss)
    register_all_modules(init_default_scope=False)
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    cfg = Config.fromfile(
        osp.join(root, 'configs', '_base_', 'models', 'rgpnet_r18-d32.py'))
    bn = dict(type='BN', requires_grad=True)
    cfg.model.backbone.norm_cfg = bn
    cfg.model.backbone.init_cfg = None
    cfg.model.decode_head.norm_cfg = bn
    cfg.model.pop('data_preprocessor', None)
    gen = torch.Generator().manual_seed(1)
    n, h, w = 2, 512, 1024
    images = torch.randn(n, 3, h, w, generator=gen).to(device)
    label = make_label('regions', n, h, w, 19, gen).to(device)
    samples = []
    for i in range(n):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[i:i + 1])
        sample.set_metainfo(dict(img_shape=(h, w), pad_shape=(h, w)))
        samples.append(sample)
    print(f'\nRGPNet-R18 training iteration, images {(n, 3, h, w)}, '
          'OHEM (thresh=0.6, min_kept=5000), forward + loss + backward:')
    steps, names = [], []
    for name, loss in (('CrossEntropyLoss', dict(type='CrossEntropyLoss')),
                       ('LabelRelaxationLoss',
                        dict(type='LabelRelaxationLoss'))):
        cfg.model.decode_head.loss_decode = loss
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).to(device).train()

        def step(model=model):
            model.zero_grad(set_to_none=True)
            losses = model.loss(images, samples)
            sum(v for k, v in losses.items() if 'loss' in k).backward()

        steps.append(step)
        names.append(name)
    times = dict(zip(names, time_interleaved(steps, runs, device)))
    for name in names:
        print(f'  {name:<20} {times[name]:>10.1f} ms')
    t_ce, t_lr = times['CrossEntropyLoss'], times['LabelRelaxationLoss']
    print(f'  difference: {t_lr - t_ce:+.1f} ms = '
          f'{(t_lr - t_ce) / t_ce * 100:+.2f} % of the CE iteration')
    return t_ce


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--runs', type=int, default=7)
    parser.add_argument(
        '--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument(
        '--model',
        action='store_true',
        help='also time RGPNet-R18 training iterations')
    args = parser.parse_args()
    warnings.filterwarnings('ignore', message='Default ``avg_non_ignore``')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f'device: {device}, torch {torch.__version__}, '
          f'{torch.get_num_threads()} CPU threads, median of {args.runs}')
    results = bench_losses([(2, 19, 128, 256), (2, 19, 512, 1024)],
                           args.runs, device)
    if args.model:
        t_iter = bench_model(max(3, args.runs // 2), device)
        t_ce, t_lr = results[((2, 19, 512, 1024), 'regions')]
        print(f'  isolated loss difference at (2, 19, 512, 1024), regions: '
              f'{t_lr - t_ce:+.1f} ms = {(t_lr - t_ce) / t_iter * 100:+.2f} '
              '% of the CE iteration')


if __name__ == '__main__':
    main()
