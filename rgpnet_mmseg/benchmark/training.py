# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The ``training`` and ``loss`` modes (docs/training_benchmark.md); the
models and batches of every mode."""
import copy
import math
import os.path as osp
import statistics
import warnings

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
from rgpnet_mmseg.utils.timing import environment, time_round_robin
from .report import table, write

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCALES, SCHEDULE = (0.25, 0.5, 1.0), ((0.25, 9), (0.5, 3), (1.0, 3))
LOSSES = dict(  # SCHEDULE: (scale, epochs)
    CE=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    LR=dict(type='LabelRelaxationLoss', loss_weight=1.0, loss_name='loss_lr'))
RATIOS = (  # title, loss, loss of the full-scale reference, paper
    ('PR+CE / full CE', 'CE', 'CE', 'table 4: 27m37s / 108m44s = 0.25'),
    ('PR+LR / full CE', 'LR', 'CE', 'table 4: 31m43s / 108m44s = 0.29'),
    ('PR+LR / full LR', 'LR', 'LR', '-'))


def add_arguments(add) -> None:
    """The options of the ``training`` mode, to ``add`` (``add_argument``)."""
    add('--config', default=osp.join(REPO, 'configs/rgpnet_r18_cityscapes.py'),
        help='model and optimizer (configs/rgpnet_r18_cityscapes.py)')
    add('--crop', type=int, nargs=2, default=[512, 1024], metavar=('H', 'W'),
        help='full-scale crop (512 1024)')
    add('--batch', type=int, default=2, help='images per batch (2)')
    add('--json', help='also write all figures and times here')


def model_config(cfg: Config) -> Config:
    """A copy of ``cfg``, its model offline on one CPU process (BN, no
    pretrained weights), no auxiliary heads: what the modes deploy."""
    cfg = copy.deepcopy(cfg)
    cfg.model = without_syncbn_and_pretrained(cfg.model)
    cfg.model.auxiliary_head = None
    return cfg


def build_segmentor(cfg: Config, train_shape=None):
    """:func:`model_config`'s model, random weights and BN statistics (a
    real test of folding BN), eval mode; with ``train_shape`` (H, W),
    ``(model, optim_wrapper)`` for that crop, auxiliary heads kept."""
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = without_syncbn_and_pretrained(copy.deepcopy(cfg.model)) \
        if train_shape else model_config(cfg).model
    if train_shape:
        model_cfg.data_preprocessor['size'] = tuple(train_shape)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(model_cfg)
    if train_shape:
        return model.train(), build_optim_wrapper(
            model, copy.deepcopy(cfg.optim_wrapper))
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            for t, low in ((m.running_mean, -.5), (m.running_var, .5),
                           (m.weight, .5), (m.bias, -.5)):
                torch.nn.init.uniform_(t, low, low + 1)
    return model.eval().requires_grad_(False)


def forward(model, x: torch.Tensor) -> torch.Tensor:
    """What mmdeploy exports: an ``EncoderDecoder``'s logits at ``x``'s size.
    """
    return model.encode_decode(x, [dict(img_shape=tuple(x.shape[2:]))])


def make_label(kind: str, shape, generator) -> torch.Tensor:
    """(N, H, W) labels for ``shape`` (N, C, H, W): ``'noise'``, a random
    class per pixel (all border); ``'regions'``, an 8 x 16 grid of classes,
    wavy borders, an ignored band at the top (6 % border at 512x1024)."""
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


def batches(batch: int, crop, seed: int = 0):
    """The timing loop's ``prepare``, a fresh batch per call as
    ``PackSegInputs`` gives it (random images, ``'regions'`` labels, an
    edge map for PIDNet's loss), and its share of border pixels."""
    g = torch.Generator().manual_seed(seed)
    labels = make_label('regions', (batch, 19, *crop), g)
    images = torch.randint(0, 256, (batch, 3, *crop), generator=g,
                           dtype=torch.uint8)

    def prepare(_):
        hw = tuple(crop)
        samples = [SegDataSample(metainfo=dict(
            img_shape=hw, ori_shape=hw, pad_shape=hw),
            gt_sem_seg=PixelData(data=lb[None].clone()),
            gt_edge_map=PixelData(data=lb[None] % 2)) for lb in labels]
        return dict(inputs=[i.clone() for i in images], data_samples=samples)
    return prepare, border_mask(labels, 3, 255, 19).float().mean().item()


def theoretical_ratio(schedule=SCHEDULE) -> float:
    """The schedule's time over as many full-scale epochs, if time went
    with the pixels: 1/16*9/15 + 1/4*3/15 + 3/15 = 0.2875."""
    return sum(s * s * n for s, n in schedule) / sum(n for _, n in schedule)


def schedule_ratio(times, full: float, schedule=SCHEDULE) -> float:
    """Measured: ``sum(epochs_s * times[s]) / (epochs * full)``."""
    return sum(times[s] * n for s, n in schedule) / (
        sum(n for _, n in schedule) * full)


def run_training(args) -> int:
    """The ``training`` mode: the two tables of docs/training_benchmark.md
    ("medians": of each (scale, loss)'s median time; "paired": the median
    over the rounds of the figure within a round)."""
    env, cfg = environment(args.device, args.threads), Config.fromfile(
        args.config)
    cfg.model.data_preprocessor.type = 'ProgressiveResizeDataPreProcessor'
    models, seen, sizes = {}, {}, {}
    for name, loss in LOSSES.items():
        cfg.model.decode_head.loss_decode = loss
        torch.manual_seed(args.seed)  # the same weights (RNG restored: main)
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

    prepare, border = batches(args.batch, args.crop, args.seed)
    times = time_round_robin({(s, n): lambda d, s=s, n=n: step(d, s, n)
                              for s in SCALES for n in LOSSES}, args.repeats,
                             args.warmup, args.device, prepare)
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
    write('\n'.join([
        'RGPNet-R18 training iteration: `model.train_step` (data '
        'preprocessor + forward + OHEM loss + backward + SGD step), batch '
        f'{args.batch} x 3 x {args.crop[0]} x {args.crop[1]}, random images, '
        f'"regions" labels ({border * 100:.1f} % border pixels); '
        f'{env["line"]} at the start; {args.repeats} timed round(s) after '
        f'{args.warmup} warm-up, each one iteration of every (scale, loss), '
        'round-robin.'] + table(
            'scale | input | CE s/iter median | CE min | LR s/iter median | '
            'LR min | LR overhead (medians) | LR overhead (paired) | CE vs 1 '
            '| LR vs 1 | pixels', scales) + [
            '', 'Total time of the 15-epoch schedule (9 epochs at 1/4, 3 at '
            '1/2, 3 at 1) / 15 epochs at full scale, same batch:'] + table(
            'ratio | medians | paired | paper', ratios)), dict(
        config=args.config, crop=args.crop, batch=args.batch, env=env,
        border_fraction=border, scales=scales, ratios=ratios,
        times={f'{s} {n}': t for (s, n), t in times.items()}), js=args.json)
    return 0


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
    write('\n'.join([
        f'{environment(args.device, args.threads)["line"]}; median of '
        f'{args.repeats} after {args.warmup} warm-up, round-robin'] + table(
            'logits shape | labels | border % | CE ms | LR ms | LR/CE | '
            'LR-CE ms', rows)))
    return 0
