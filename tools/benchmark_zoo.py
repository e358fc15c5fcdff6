# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""RGPNet side by side with MMSegmentation's real-time models.

    python tools/benchmark_zoo.py [--models KEY ...] [--shape H W]
        [--repeats 5] [--warmup 1] [--threads N] [--device cpu|cuda]
        [--fast-paths fused channels-last compile onnxruntime]
        [--fast-models bisenetv1-r18 rgpnet-r18] [--train]
        [--train-models ...]
        [--train-iters 3] [--train-batch 2] [--train-shape H W]
        [--profile] [--out-md FILE] [--out-plot FILE] [--out-json FILE]

Builds each model from its config (mmseg's own shipped configs under
``mmseg/.mim/configs`` for mmseg's models, ``configs/rgpnet_r*_cityscapes.py``
for ours) with SyncBN turned into BN and the pretrained initialisation
dropped (random weights; speed does not depend on them), and measures in
one process, side by side:

* parameters and GFLOPs of the inference network (mmengine's
  ``FlopAnalyzer``/``parameter_count``, the numbers of
  ``mmengine.analysis.get_model_complexity_info`` and of mmseg's
  ``get_flops.py``, auxiliary heads removed as ``get_flops.py`` does).
  **mmengine counts one multiply-add as one FLOP**: its "GFLOPs" are
  GMACs; the achieved GFLOP/s below use 2 FLOPs per multiply-add;
* latency of ``model(x, mode='tensor')`` (backbone + decode head, logits
  at the head's stride, no resize/argmax) under ``torch.inference_mode``,
  eager, batch 1, median over ``--repeats`` timed runs after ``--warmup``
  untimed ones, and FPS = 1 / median;
* the machine's ceiling in the same run: a 2048^3 fp32 GEMM with the same
  thread count through MKL (``torch.mm``) and through oneDNN (mkldnn
  ``Linear``); the faster of the two is the ceiling, and each model's
  achieved GFLOP/s is given as a fraction of it;
* for ``--fast-models`` (default BiSeNetV1-R18 and RGPNet-R18, like for
  like) extra rows with the
  inference paths of :mod:`rgpnet_mmseg.utils.fast_inference`: BN folded
  (``fused``), BN folded + channels-last (``channels-last``),
  ``torch.compile`` (inductor, freezing) of the latter (``compile``) and
  ONNX Runtime on the graph exported by the deploy helper's exporter
  (``onnxruntime``), each checked against eager (max |difference|);
* with ``--train``: training iterations per second (``model.train_step``
  with SGD, batch ``--train-batch`` of random images and labels at
  ``--train-shape``) for ``--train-models``.

All timed calls run round-robin (every repeat runs every model once, the
GEMMs included), so that a change of the machine's load hits all rows
alike: compare ratios. ``--profile`` adds where the time of RGPNet-R18
goes, by op type (``torch.profiler``) and by layer kind and level.
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
import tempfile
import time
import warnings
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# key: (label, source, config relative to mmseg/.mim/configs or configs/)
ZOO = OrderedDict([
    ('bisenetv1-r18',
     ('BiSeNetV1-R18', 'mmseg',
      'bisenetv1/bisenetv1_r18-d32_4xb4-160k_cityscapes-1024x1024.py')),
    ('bisenetv2',
     ('BiSeNetV2', 'mmseg',
      'bisenetv2/bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024.py')),
    ('stdc1',
     ('STDC1', 'mmseg', 'stdc/stdc1_4xb12-80k_cityscapes-512x1024.py')),
    ('stdc2',
     ('STDC2', 'mmseg', 'stdc/stdc2_4xb12-80k_cityscapes-512x1024.py')),
    ('ddrnet-23-slim',
     ('DDRNet-23-slim', 'mmseg',
      'ddrnet/ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024.py')),
    ('pidnet-s', ('PIDNet-S', 'mmseg',
                  'pidnet/pidnet-s_2xb6-120k_1024x1024-cityscapes.py')),
    ('fast-scnn', ('Fast-SCNN', 'mmseg',
                   'fastscnn/fast_scnn_8xb4-160k_cityscapes-512x1024.py')),
    ('icnet-r18', ('ICNet-R18-D8', 'mmseg',
                   'icnet/icnet_r18-d8_4xb2-80k_cityscapes-832x832.py')),
    ('rgpnet-r18', ('RGPNet-R18', 'rgpnet', 'rgpnet_r18_cityscapes.py')),
    ('rgpnet-r50', ('RGPNet-R50', 'rgpnet', 'rgpnet_r50_cityscapes.py')),
    ('rgpnet-r101', ('RGPNet-R101', 'rgpnet', 'rgpnet_r101_cityscapes.py')),
])
REFERENCE = 'rgpnet-r18'
FAST_PATHS = ('fused', 'channels-last', 'compile', 'onnxruntime')
FAST_LABELS = {
    'fused': 'fused BN',
    'channels-last': 'fused BN + channels-last',
    'compile': 'torch.compile (inductor, freezing)',
    'onnxruntime': 'onnxruntime (CPU EP)',
}
GEMM_N = 2048  # CPU: 17.2 GFLOP per product
GEMM_N_CUDA = 8192
GEMM_REPS = 3  # products per timed sample
SKIPPED: List[str] = []  # faster paths that failed in this run


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='RGPNet beside mmseg\'s real-time models: parameters, '
        'GFLOPs, latency, FPS, GEMM ceiling, training speed')
    parser.add_argument(
        '--models',
        nargs='+',
        default=list(ZOO),
        choices=list(ZOO),
        metavar='KEY',
        help=f'models, in table order (default: all: {", ".join(ZOO)})')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='input height and width (default: 512 1024 on a CPU, '
        '1024 2048 on a GPU)')
    parser.add_argument(
        '--repeats',
        type=int,
        default=5,
        help='timed runs per model (median reported; default: 5)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=1,
        help='untimed runs per model first (default: 1)')
    parser.add_argument(
        '--threads',
        type=int,
        help='torch (and ONNX Runtime) threads (default: torch\'s, '
        'the physical cores)')
    parser.add_argument(
        '--device',
        default=None,
        help='cpu or cuda (default: cuda if available, else cpu)')
    parser.add_argument(
        '--fast-paths',
        nargs='*',
        default=list(FAST_PATHS),
        choices=FAST_PATHS,
        help='extra inference paths for --fast-models (default: all; '
        'none: no extra rows)')
    parser.add_argument(
        '--fast-models',
        nargs='*',
        default=['bisenetv1-r18', REFERENCE],
        choices=list(ZOO),
        metavar='KEY',
        help='models that get the extra rows (default: bisenetv1-r18 '
        f'{REFERENCE}: the same paths for both, like for like)')
    parser.add_argument(
        '--train',
        action='store_true',
        help='also measure training iterations per second')
    parser.add_argument(
        '--train-models',
        nargs='+',
        default=['rgpnet-r18', 'bisenetv1-r18'],
        choices=list(ZOO),
        metavar='KEY',
        help='models whose training speed is measured (default: '
        'rgpnet-r18 bisenetv1-r18)')
    parser.add_argument(
        '--train-iters',
        type=int,
        default=3,
        help='timed training iterations (after one untimed; default: 3)')
    parser.add_argument(
        '--train-batch', type=int, default=2, help='batch size (default: 2)')
    parser.add_argument(
        '--train-shape',
        type=int,
        nargs=2,
        default=[512, 1024],
        metavar=('H', 'W'),
        help='training crop (default: 512 1024)')
    parser.add_argument(
        '--profile',
        action='store_true',
        help='where the time of RGPNet-R18 (eager and the fused '
        'channels-last path) goes: torch.profiler by op type and a '
        'breakdown by layer kind and level')
    parser.add_argument('--out-md', help='write the table(s) as markdown')
    parser.add_argument(
        '--out-plot', help='write latency vs GFLOPs as a PNG')
    parser.add_argument('--out-json', help='write all figures as JSON')
    parser.add_argument(
        '--work-dir',
        help='where the ONNX file goes (default: a temporary directory)')
    parser.add_argument(
        '--seed', type=int, default=0, help='random seed (default: 0)')
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0 or args.train_iters < 1:
        parser.error('--repeats and --train-iters must be >= 1, '
                     '--warmup >= 0')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    return args


# ---------------------------------------------------------------- building


def config_path(key: str) -> str:
    """The config file of a zoo model."""
    _, source, rel = ZOO[key]
    if source == 'mmseg':
        import mmseg
        return osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs', rel)
    return osp.join(REPO_ROOT, 'configs', rel)


def load_model_cfg(key: str):
    from mmengine.config import Config
    cfg = Config.fromfile(config_path(key))
    return cfg


def build_segmentor(key: str, train: bool = False,
                    train_shape: Optional[Sequence[int]] = None):
    """Build a zoo model (random weights, BN statistics randomised with
    the current torch seed so that folding BN is a real test)."""
    import torch
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    from rgpnet_mmseg.utils.cpu_config import cpu_friendly

    cfg = load_model_cfg(key)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = cpu_friendly(copy.deepcopy(cfg.model))
    if train and train_shape is not None:
        model_cfg.data_preprocessor['size'] = tuple(train_shape)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = MODELS.build(model_cfg)
    if not train:
        # the inference network, as mmseg's get_flops.py counts it
        if getattr(model, 'auxiliary_head', None) is not None:
            model.auxiliary_head = None
        randomize_bn_(model)
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
    return model


def randomize_bn_(model) -> None:
    """Give every BN non-trivial running statistics and affine weights."""
    import torch
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and \
                m.running_mean is not None:
            with torch.no_grad():
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                if m.weight is not None:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.1)


def complexity(model, x) -> Dict[str, float]:
    """Parameters and MACs (mmengine's "flops") of ``model(x)``."""
    from mmengine.analysis import FlopAnalyzer, parameter_count
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        analyzer = FlopAnalyzer(model, (x, ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        macs = analyzer.total()
    return dict(params=parameter_count(model)[''], macs=macs)


# ---------------------------------------------------------------- timing


def synchronize(device) -> None:
    import torch
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


class Variant:
    """One row: a callable timed on the benchmark input."""

    def __init__(self, key: str, label: str, fn: Callable[[], Any],
                 macs: float, params: float, kind: str = 'eager',
                 base: Optional[str] = None, note: str = '') -> None:
        self.key = key
        self.label = label
        self.fn = fn
        self.macs = macs
        self.params = params
        self.kind = kind
        self.base = base or key
        self.note = note
        self.times: List[float] = []
        self.parity: Optional[Dict[str, float]] = None

    @property
    def latency(self) -> float:
        return statistics.median(self.times) if self.times else math.nan


def gemm_fns(device) -> Dict[str, tuple]:
    """Large fp32 GEMMs: ``GEMM_REPS`` back-to-back ``GEMM_N``^3 products
    per timed sample (a sample about as long as a model's run, so that
    both see the machine's load alike), through MKL (``torch.mm``) and
    oneDNN (mkldnn ``Linear``); on CUDA ``torch.mm`` without TF32.

    Returns:
        dict: name -> (callable, FLOPs per call).
    """
    import torch
    fns = OrderedDict()
    if str(device).startswith('cuda'):
        torch.backends.cuda.matmul.allow_tf32 = False
        n = GEMM_N_CUDA
        a = torch.randn(n, n, device=device)
        b = torch.randn(n, n, device=device)
        fns['torch.mm'] = (lambda: [torch.mm(a, b) for _ in range(GEMM_REPS)],
                           2.0 * n**3 * GEMM_REPS)
        return fns
    n = GEMM_N
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    out = torch.empty(n, n)
    fns['torch.mm (MKL)'] = (
        lambda: [torch.mm(a, b, out=out) for _ in range(GEMM_REPS)],
        2.0 * n**3 * GEMM_REPS)
    if torch.backends.mkldnn.is_available():
        try:
            import torch.utils.mkldnn as mkldnn_utils
            lin = mkldnn_utils.to_mkldnn(
                torch.nn.Linear(n, n, bias=False).eval())
            am = a.to_mkldnn()
            with torch.no_grad():
                lin(am)
            fns['oneDNN (mkldnn Linear)'] = (
                lambda: [lin(am) for _ in range(GEMM_REPS)],
                2.0 * n**3 * GEMM_REPS)
        except Exception as err:  # pragma: no cover - build without it
            print(f'note: no oneDNN GEMM ({err})', file=sys.stderr)
    return fns


def run_round_robin(variants: List[Variant], gemms: Dict[str, tuple],
                    repeats: int, warmup: int, device,
                    log: Callable[[str], None]) -> Dict[str, List[float]]:
    """Time every variant and GEMM ``repeats`` times, round-robin, after
    ``warmup`` untimed rounds. Returns the GEMM GFLOP/s samples."""
    import torch
    gemm_rates = {name: [] for name in gemms}
    items = [('gemm', name) for name in gemms] + [('model', v)
                                                  for v in variants]
    with torch.inference_mode():
        for r in range(warmup):
            for _, item in items:
                (gemms[item][0] if isinstance(item, str) else item.fn)()
            synchronize(device)
        for r in range(repeats):
            # rotate the order so that no row always follows the same one
            shift = r % len(items)
            for what, item in items[shift:] + items[:shift]:
                fn = gemms[item][0] if what == 'gemm' else item.fn
                synchronize(device)
                t0 = time.perf_counter()
                fn()
                synchronize(device)
                dt = time.perf_counter() - t0
                if what == 'gemm':
                    gemm_rates[item].append(gemms[item][1] / dt / 1e9)
                else:
                    item.times.append(dt)
            log(f'  round {r + 1}/{repeats} done')
    return gemm_rates


# ---------------------------------------------------------------- fast paths


def make_fast_variants(key: str, model, x, paths: Sequence[str], cplx,
                       threads: int, device, work_dir: str,
                       log: Callable[[str], None]) -> List[Variant]:
    """The extra rows of one model: each an inference path of
    :mod:`rgpnet_mmseg.utils.fast_inference` (or ONNX Runtime), with its
    parity against eager. Paths that fail are left out and named in
    ``SKIPPED``."""
    from rgpnet_mmseg.utils.fast_inference import (check_parity,
                                                   fuse_conv_bn,
                                                   optimize_for_inference)
    label = ZOO[key][0]
    eager = lambda t: model(t, mode='tensor')  # noqa: E731
    out = []
    for path in paths:
        fn = None
        note = ''
        try:
            if path == 'fused':
                fused = fuse_conv_bn(model)
                cand = lambda t, m=fused: m(t, mode='tensor')  # noqa: E731
            elif path == 'channels-last':
                fast = optimize_for_inference(model)
                cand = lambda t, m=fast: m(t, mode='tensor')  # noqa: E731
            elif path == 'compile':
                cand, note = _compiled(model, x, log)
            elif path == 'onnxruntime':
                if str(device).startswith('cuda'):
                    log('  onnxruntime: skipped on a GPU (CPU EP only here)')
                    continue
                cand, fn, note = _onnxruntime(model, x, threads, work_dir,
                                              log)
            parity = check_parity(eager, cand, x)
        except Exception as err:  # keep the table: say what failed
            msg = f'{label} {path}: skipped ({type(err).__name__}: {err})'
            log(f'  {msg}')
            SKIPPED.append(msg)
            continue
        xin = x
        variant = Variant(
            f'{key}:{path}',
            f'{label} {FAST_LABELS[path]}',
            fn or (lambda c=cand: c(xin)),
            cplx['macs'],
            cplx['params'],
            kind=path,
            base=key,
            note=note)
        variant.parity = parity
        if not parity['ok']:
            log(f'  WARNING: {variant.label} differs from eager: '
                f'max |diff| {parity["max_abs"]:.3g} '
                f'(max |ref| {parity["max_ref"]:.3g})')
        out.append(variant)
    return out


def _compiled(model, x, log):
    from rgpnet_mmseg.utils.fast_inference import compile_for_inference
    t0 = time.perf_counter()
    compiled = compile_for_inference(model, x)
    dt = time.perf_counter() - t0
    log(f'  torch.compile: {dt:.1f} s to compile')
    return compiled, f'compile {dt:.0f} s'


def _onnxruntime(model, x, threads: int, work_dir: str, log):
    from rgpnet_mmseg.utils.fast_inference import onnxruntime_for_inference
    t0 = time.perf_counter()
    fn = onnxruntime_for_inference(
        model, x, osp.join(work_dir, 'model_tensor_mode.onnx'),
        threads=threads)
    log(f'  onnxruntime: exported ({fn.exporter}) and loaded in '
        f'{time.perf_counter() - t0:.1f} s')
    xn = x.cpu().numpy()
    return fn, (lambda: fn.run_numpy(xn)), fn.exporter


# ---------------------------------------------------------------- training


def make_train_step(key: str, batch: int, shape: Sequence[int], device):
    """A closure running one mmseg training iteration of ``key``
    (``model.train_step``: data preprocessor, losses, backward, SGD)."""
    import torch
    from mmengine.optim import OptimWrapper
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    model = build_segmentor(key, train=True, train_shape=shape).to(device)
    model.train()
    optim = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9))
    h, w = shape
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g,
                                    dtype=torch.uint8))
        sample = SegDataSample(
            metainfo=dict(
                img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 19, (1, h, w), generator=g))
        # PIDNet's boundary loss reads an edge map
        sample.gt_edge_map = PixelData(
            data=torch.randint(0, 2, (1, h, w), generator=g))
        samples.append(sample)
    data = dict(inputs=inputs, data_samples=samples)

    def step():
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            model.train_step(data, optim)
        synchronize(device)

    return step


def run_training(keys: Sequence[str], batch: int, shape: Sequence[int],
                 iters: int, device, log) -> Dict[str, List[float]]:
    """Seconds per training iteration, round-robin over ``keys`` after one
    untimed iteration each."""
    steps = OrderedDict()
    for key in keys:
        log(f'  building {ZOO[key][0]} for training')
        steps[key] = make_train_step(key, batch, shape, device)
    times = {key: [] for key in keys}
    for step in steps.values():
        step()
    for i in range(iters):
        for key, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[key].append(time.perf_counter() - t0)
        log(f'  training round {i + 1}/{iters} done')
    return times


# ---------------------------------------------------------------- profile


def layer_breakdown(model, x, repeats: int = 1) -> List[Dict[str, Any]]:
    """Time per layer kind and level of ``model(x, mode='tensor')``, from
    forward hooks on leaf modules (eager)."""
    import torch
    import torch.nn as nn
    records = OrderedDict()
    stack = {}
    in_h = x.shape[-2]

    def kind_of(m, inp, out):
        if isinstance(m, nn.ConvTranspose2d):
            k = f'conv-transpose {m.kernel_size[0]}x{m.kernel_size[1]}'
        elif isinstance(m, nn.Conv2d):
            k = f'conv {m.kernel_size[0]}x{m.kernel_size[1]}'
            if m.in_channels <= 4:
                k += ' (image)'
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            k = 'batch norm'
        elif isinstance(m, (nn.ReLU, nn.ReLU6, nn.Hardswish,
                            nn.Hardsigmoid, nn.Sigmoid, nn.GELU)):
            k = 'activation'
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d,
                            nn.AdaptiveAvgPool2d)):
            k = 'pooling'
        else:
            k = type(m).__name__
        level = ''
        if torch.is_tensor(out) and out.dim() == 4 and out.shape[-2] > 0:
            level = f'1/{max(1, round(in_h / out.shape[-2]))}'
        return k, level

    def macs_of(m, inp, out):
        if isinstance(m, nn.ConvTranspose2d):
            x_ = inp[0]
            return (x_.shape[0] * x_.shape[2] * x_.shape[3] *
                    m.weight.numel())
        if isinstance(m, nn.Conv2d):
            return (out.shape[0] * out.shape[2] * out.shape[3] *
                    m.weight.numel())
        return 0

    def pre(m, inp):
        stack[id(m)] = time.perf_counter()

    def post(m, inp, out):
        dt = time.perf_counter() - stack.pop(id(m))
        key = kind_of(m, inp, out)
        rec = records.setdefault(key, dict(calls=0, seconds=0.0, macs=0))
        rec['calls'] += 1
        rec['seconds'] += dt
        rec['macs'] += macs_of(m, inp, out)

    handles = []
    for m in model.modules():
        if len(list(m.children())) == 0 and not isinstance(
                m, (nn.Identity, nn.Dropout, nn.Dropout2d)):
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post))
    try:
        with torch.inference_mode():
            model(x, mode='tensor')  # warm
            records.clear()
            t0 = time.perf_counter()
            for _ in range(repeats):
                model(x, mode='tensor')
            total = (time.perf_counter() - t0) / repeats
    finally:
        for h in handles:
            h.remove()
    rows = []
    leaf = sum(r['seconds'] for r in records.values()) / repeats
    for (kind, level), r in records.items():
        s = r['seconds'] / repeats
        rows.append(
            dict(kind=kind, level=level, calls=r['calls'] // repeats,
                 ms=s * 1e3, share=s / total,
                 gmacs=r['macs'] / repeats / 1e9,
                 gflops_per_s=(2 * r['macs'] / repeats / s / 1e9)
                 if r['macs'] and s > 0 else None))
    rows.sort(key=lambda r: -r['ms'])
    rows.append(
        dict(kind='(between layers: adds, crops, Python)', level='',
             calls='', ms=(total - leaf) * 1e3, share=(total - leaf) / total,
             gmacs=0, gflops_per_s=None))
    return rows, total


def op_profile(fn, rows: int = 12) -> List[Dict[str, Any]]:
    """Self CPU time by aten op of one call of ``fn`` (torch.profiler)."""
    import torch
    from torch.profiler import ProfilerActivity, profile
    with torch.inference_mode():
        fn()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            fn()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    out = []
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:rows]:
        out.append(
            dict(op=e.key, calls=e.count, ms=e.self_cpu_time_total / 1e3,
                 share=e.self_cpu_time_total / total if total else 0))
    return out, total / 1e3


# ---------------------------------------------------------------- output


def fmt(value, digits=2, missing='-'):
    if value is None or (isinstance(value, float) and not math.isfinite(
            value)):
        return missing
    return f'{value:.{digits}f}'


def environment(threads: int, device) -> Dict[str, Any]:
    import torch
    cpu = platform.processor() or ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    env = dict(
        cpu=cpu,
        cpu_count=os.cpu_count(),
        threads=threads,
        device=str(device),
        torch=torch.__version__,
        python=platform.python_version(),
    )
    if str(device).startswith('cuda'):
        env['gpu'] = torch.cuda.get_device_name()
    try:
        import onnxruntime
        env['onnxruntime'] = onnxruntime.__version__
    except ImportError:
        pass
    return env


def build_tables(result: Dict[str, Any]) -> str:
    """Markdown of the results."""
    rows = result['rows']
    ceiling = result['ceiling']
    ref = next((r for r in rows if r['key'] == REFERENCE), None)
    h, w = result['shape']
    lines = []
    env = result['env']
    lines.append(
        f'Input 1x3x{h}x{w}, batch 1, fp32, {env["device"]}, '
        f'{env["threads"]} thread(s), {env["cpu"]} ({env["cpu_count"]} '
        f'logical CPUs), torch {env["torch"]}; load average '
        f'{result["load_before"]} before, {result["load_after"]} after; '
        f'median of {result["repeats"]} runs after {result["warmup"]} '
        'warm-up, round-robin.')
    lines.append('')
    gemm = ', '.join(f'{name} {fmt(v, 1)}'
                     for name, v in ceiling['gemm'].items())
    n = GEMM_N_CUDA if env['device'].startswith('cuda') else GEMM_N
    lines.append(
        f'GEMM ceiling ({n}^3 fp32, {GEMM_REPS} products per sample, same '
        f'threads, median GFLOP/s): {gemm}; ceiling = '
        f'{fmt(ceiling["best"], 1)} GFLOP/s ({ceiling["best_name"]}; best '
        f'single sample {fmt(ceiling["best_sample"], 1)}).')
    lines.append('')
    header = ('| model | params (M) | GFLOPs (mmengine, = GMACs) | '
              'latency (ms) | FPS | latency / RGPNet-R18 | '
              'achieved GFLOP/s (2 x MACs / latency) | % of GEMM ceiling | '
              'train it/s | parity vs eager (max abs diff) |')
    lines.append(header)
    lines.append('|' + ' --- |' * 10)
    for r in rows:
        ratio = (r['latency_ms'] / ref['latency_ms']) if ref else None
        parity = '-'
        if r.get('parity'):
            p = r['parity']
            parity = (f'{p["max_abs"]:.1e} (argmax '
                      f'{100 * p["argmax_agree"]:.2f} %)'
                      + ('' if p['ok'] else ' **MISMATCH**'))
        train = r.get('train_its')
        lines.append(
            f'| {r["label"]} | {fmt(r["params"] / 1e6)} | '
            f'{fmt(r["macs"] / 1e9)} | {fmt(r["latency_ms"], 1)} | '
            f'{fmt(r["fps"])} | {fmt(ratio)} | {fmt(r["gflops_per_s"], 1)}'
            f' | {fmt(r["ceiling_fraction"] * 100, 1)} | '
            f'{fmt(train, 3)} | {parity} |')
    if result.get('train'):
        t = result['train']
        lines.append('')
        lines.append(
            f'Training: `model.train_step` (data preprocessor, all losses '
            f'incl. auxiliary heads, backward, SGD), batch '
            f'{t["batch"]} at {t["shape"][0]}x{t["shape"][1]}, random '
            f'images and labels, median of {t["iters"]} iterations after '
            'one untimed.')
    notes = [r for r in rows if r.get('note')]
    if notes or result.get('skipped'):
        lines.append('')
        for r in notes:
            lines.append(f'- {r["label"]}: {r["note"]}')
        for msg in result.get('skipped') or []:
            lines.append(f'- {msg}')
    if result.get('profile'):
        lines.append('')
        lines.append(format_profile(result['profile']))
    return '\n'.join(lines) + '\n'


def format_profile(profile: Dict[str, Any]) -> str:
    lines = []
    for name, prof in profile.items():
        lines.append(f'### Where the time goes: {name}')
        lines.append('')
        lines.append(
            f'torch.profiler, self CPU time by op (one call, '
            f'{fmt(prof["op_total_ms"], 1)} ms in all):')
        lines.append('')
        lines.append('| op | calls | ms | share |')
        lines.append('| --- | --- | --- | --- |')
        for r in prof['ops']:
            lines.append(f'| `{r["op"]}` | {r["calls"]} | '
                         f'{fmt(r["ms"], 1)} | {fmt(100 * r["share"], 1)} % |')
        lines.append('')
        lines.append(
            f'By layer kind and output level (forward hooks on leaf '
            f'modules; {fmt(prof["layer_total_ms"], 1)} ms per call):')
        lines.append('')
        lines.append('| layer | level | calls | ms | share | GMACs | '
                     'GFLOP/s |')
        lines.append('| --- | --- | --- | --- | --- | --- | --- |')
        for r in prof['layers']:
            lines.append(
                f'| {r["kind"]} | {r["level"]} | {r["calls"]} | '
                f'{fmt(r["ms"], 1)} | {fmt(100 * r["share"], 1)} % | '
                f'{fmt(r["gmacs"])} | {fmt(r["gflops_per_s"], 0)} |')
        lines.append('')
    return '\n'.join(lines)


# label offsets tried in turn (points), the first that overlaps no other
# label or marker wins
LABEL_OFFSETS = [(d * sx, d * sy, ha, va)
                 for d in (8, 16, 26)
                 for sx, sy, ha, va in ((1, 1, 'left', 'bottom'),
                                        (-1, 1, 'right', 'bottom'),
                                        (1, -1, 'left', 'top'),
                                        (-1, -1, 'right', 'top'),
                                        (0, 1.2, 'center', 'bottom'),
                                        (0, -1.2, 'center', 'top'))]


def _place_labels(fig, ax, points, labels) -> None:
    """Annotate ``points`` (data coordinates) with ``labels``, each at the
    first of ``LABEL_OFFSETS`` whose text box keeps clear of the labels
    placed so far and of every other marker (greedy), with a thin line to
    its point."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    pixels = [tuple(ax.transData.transform(p)) for p in points]

    def box_of(i, pad):
        px, py = pixels[i]
        return (px - pad, py - pad, px + pad, py + pad)

    def overlaps(b, c):
        return not (b[2] < c[0] or c[2] < b[0] or b[3] < c[1] or c[3] < b[1])

    def crosses(p1, p2, q1, q2):
        def orient(a, b, c):
            return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] -
                                                                   a[0])
        return (orient(p1, p2, q1) * orient(p1, p2, q2) < 0
                and orient(q1, q2, p1) * orient(q1, q2, p2) < 0)

    scale = fig.dpi / 72.0  # offset points -> pixels
    placed, leaders = [], []
    # top to bottom, so that neighbours' labels stack in their points' order
    order = sorted((i for i, t in enumerate(labels) if t),
                   key=lambda i: -pixels[i][1])
    for i in order:
        text = labels[i]
        others = [box_of(j, 9) for j in range(len(points)) if j != i]
        own = box_of(i, 5)
        choice = None
        for dx, dy, ha, va in LABEL_OFFSETS:
            # measure the text alone (an arrow's box would cover the point)
            probe = ax.annotate(text, points[i], textcoords='offset points',
                                xytext=(dx, dy), fontsize=7.5, ha=ha, va=va)
            e = probe.get_window_extent(renderer)
            probe.remove()
            box = (e.x0, e.y0, e.x1, e.y1)
            leader = (pixels[i],
                      (pixels[i][0] + dx * scale, pixels[i][1] + dy * scale))
            if any(overlaps(box, o) for o in placed + others + [own]):
                continue
            if any(crosses(*leader, *other) for other in leaders):
                continue
            choice = (dx, dy, ha, va, box, leader)
            break
        if choice is None:
            dx, dy, ha, va = LABEL_OFFSETS[0]
            box, leader = None, None
        else:
            dx, dy, ha, va, box, leader = choice
        ax.annotate(
            text, points[i], textcoords='offset points', xytext=(dx, dy),
            fontsize=7.5, ha=ha, va=va,
            arrowprops=dict(arrowstyle='-', lw=0.5, color='0.5', shrinkA=0,
                            shrinkB=3))
        if box is not None:
            placed.append(box)
            leaders.append(leader)


FAST_MARKERS = {
    'fused': 'v',
    'channels-last': '^',
    'compile': 'D',
    'onnxruntime': 'P',
}


def save_plot(result: Dict[str, Any], path: str) -> None:
    """Latency vs GFLOPs (log-log), one labelled point per row, and the
    latency the GEMM ceiling would give (2 x MACs / ceiling)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = [r for r in result['rows'] if math.isfinite(r['latency_ms'])]
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    for r in rows:
        ours = r['base'].startswith('rgpnet')
        fast = r['kind'] != 'eager'
        color = 'tab:red' if ours else 'tab:blue'
        xy = (r['macs'] / 1e9, r['latency_ms'])
        if fast:
            ax.scatter(*xy, marker=FAST_MARKERS.get(r['kind'], 'x'), s=30,
                       zorder=3, edgecolors=color, facecolors='none',
                       linewidths=1)
        else:
            ax.scatter(*xy, marker='s' if ours else 'o', s=40, zorder=3,
                       c=color)
    ceiling = result['ceiling']['best']
    if ceiling and math.isfinite(ceiling) and rows:
        lo = min(r['macs'] for r in rows) / 1e9 / 1.3
        hi = max(r['macs'] for r in rows) / 1e9 * 1.3
        ax.plot([lo, hi], [2 * lo / ceiling * 1e3, 2 * hi / ceiling * 1e3],
                '--', c='gray', lw=1,
                label=f'at the GEMM ceiling ({ceiling:.0f} GFLOP/s)')
    ax.scatter([], [], marker='o', c='tab:blue', label='mmseg, eager')
    ax.scatter([], [], marker='s', c='tab:red', label='RGPNet, eager')
    for kind in sorted({r['kind'] for r in rows} - {'eager'},
                       key=list(FAST_MARKERS).index):
        ax.scatter([], [], marker=FAST_MARKERS[kind], edgecolors='k',
                   facecolors='none', label=FAST_LABELS[kind])
    ax.legend(loc='upper left', fontsize=7.5)
    if rows:
        ax.set_ylim(bottom=min(r['latency_ms'] for r in rows) / 1.6,
                    top=max(r['latency_ms'] for r in rows) * 1.4)
    ax.set_xscale('log')
    ax.set_yscale('log')
    from matplotlib.ticker import FuncFormatter
    plain = FuncFormatter(lambda v, _: f'{v:g}')
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(plain)
        axis.set_minor_formatter(
            FuncFormatter(lambda v, _: f'{v:g}'
                          if f'{v:g}'[0] in '25' else ''))
    ax.tick_params(which='minor', labelsize=7)
    h, w = result['shape']
    env = result['env']
    ax.set_xlabel('GFLOPs (mmengine convention: multiply-adds)')
    ax.set_ylabel('latency, median (ms)')
    ax.set_title(f'{h}x{w}, batch 1, fp32, {env["device"]}, '
                 f'{env["threads"]} thread(s), load {result["load_before"]}',
                 fontsize=9)
    ax.grid(True, which='both', alpha=0.25)
    fig.tight_layout()
    _place_labels(fig, ax, [(r['macs'] / 1e9, r['latency_ms']) for r in rows],
                  [r['label'] if r['kind'] == 'eager' else ''
                   for r in rows])
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------- main


def run(args: argparse.Namespace, log=None) -> Dict[str, Any]:
    """Run the benchmark; returns the results (see ``--out-json``)."""
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    import numpy as np  # noqa: F401
    import torch
    import rgpnet_mmseg  # noqa: F401  (registers RGPHead & co.)

    device = torch.device(args.device or (
        'cuda' if torch.cuda.is_available() else 'cpu'))
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args, log, device)
    finally:  # in-process callers (tests) keep their thread count
        torch.set_num_threads(threads_before)


def _run(args, log, device) -> Dict[str, Any]:
    import torch
    SKIPPED.clear()
    threads = torch.get_num_threads()
    shape = tuple(args.shape or ((1024, 2048) if device.type == 'cuda' else
                                 (512, 1024)))
    torch.manual_seed(args.seed)
    load_before = ' / '.join(f'{v:.2f}' for v in os.getloadavg())
    if device.type == 'cpu' and os.getloadavg()[0] > 0.5:
        log(f'note: load average {load_before} before the run: other '
            'processes use the CPU. Absolute times will be off (and '
            f'{torch.get_num_threads()} threads may thrash); the ratios '
            'of this run still compare its rows.')
    x = torch.randn(1, 3, *shape, device=device)

    variants: List[Variant] = []
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='benchmark_zoo_')
    os.makedirs(work_dir, exist_ok=True)
    models = {}
    for key in args.models:
        label = ZOO[key][0]
        t0 = time.perf_counter()
        model = build_segmentor(key).to(device)
        cplx = complexity(model, x)
        with torch.inference_mode():
            out = model(x, mode='tensor')
        if not torch.isfinite(out).all():
            log(f'WARNING: {label}: non-finite output')
        models[key] = model
        variants.append(
            Variant(key, label, (lambda m=model: m(x, mode='tensor')),
                    cplx['macs'], cplx['params']))
        log(f'{label}: {cplx["params"] / 1e6:.2f} M params, '
            f'{cplx["macs"] / 1e9:.2f} GMACs, output '
            f'{tuple(out.shape)} (built in {time.perf_counter() - t0:.1f} s)')
        if key in (args.fast_models or []) and args.fast_paths:
            variants.extend(
                make_fast_variants(key, model, x, args.fast_paths, cplx,
                                   threads, device, work_dir, log))

    gemms = gemm_fns(device)
    log(f'timing {len(variants)} rows x {args.repeats} (+{args.warmup} '
        f'warm-up) at {shape[0]}x{shape[1]}, {threads} thread(s)')
    gemm_rates = run_round_robin(variants, gemms, args.repeats, args.warmup,
                                 device, log)
    gemm_median = {k: statistics.median(v) for k, v in gemm_rates.items()}
    best_name = max(gemm_median, key=gemm_median.get)
    ceiling = dict(
        gemm=gemm_median, best=gemm_median[best_name], best_name=best_name,
        best_sample=max(max(v) for v in gemm_rates.values()),
        samples=gemm_rates)

    train = None
    if args.train:
        log(f'training: {", ".join(args.train_models)}, batch '
            f'{args.train_batch} at {args.train_shape[0]}x'
            f'{args.train_shape[1]}')
        train_times = run_training(args.train_models, args.train_batch,
                                   args.train_shape, args.train_iters,
                                   device, log)
        train = dict(
            batch=args.train_batch, shape=list(args.train_shape),
            iters=args.train_iters, times=train_times)

    profile = None
    if args.profile and REFERENCE in models and device.type == 'cpu':
        from rgpnet_mmseg.utils.fast_inference import optimize_for_inference
        log('profiling RGPNet-R18')
        profile = OrderedDict()
        fast = optimize_for_inference(models[REFERENCE])
        for name, m in (('RGPNet-R18 eager', models[REFERENCE]),
                        ('RGPNet-R18 fused BN + channels-last', fast)):
            ops, op_total = op_profile(lambda m=m: m(x, mode='tensor'))
            layers, layer_total = layer_breakdown(m, x)
            profile[name] = dict(ops=ops, op_total_ms=op_total,
                                 layers=layers,
                                 layer_total_ms=layer_total * 1e3)

    rows = []
    for v in variants:
        lat = v.latency
        gflops = 2 * v.macs / lat / 1e9 if lat > 0 else math.nan
        row = dict(
            key=v.key, label=v.label, kind=v.kind, base=v.base,
            params=v.params, macs=v.macs, latency_ms=lat * 1e3,
            fps=1.0 / lat if lat > 0 else math.nan,
            times_ms=[t * 1e3 for t in v.times], gflops_per_s=gflops,
            ceiling_fraction=gflops / ceiling['best'], parity=v.parity,
            note=v.note)
        if train and v.kind == 'eager' and v.key in train['times']:
            row['train_its'] = 1.0 / statistics.median(
                train['times'][v.key])
        rows.append(row)
    result = dict(
        shape=list(shape), repeats=args.repeats, warmup=args.warmup,
        env=environment(threads, device), load_before=load_before,
        load_after=' / '.join(f'{v:.2f}' for v in os.getloadavg()),
        ceiling=ceiling, rows=rows, train=train, profile=profile,
        skipped=list(SKIPPED),
        command=' '.join(['python tools/benchmark_zoo.py'] +
                         list(getattr(args, '_argv', []))))
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    args._argv = list(sys.argv[1:] if argv is None else argv)
    result = run(args)
    text = build_tables(result)
    print(text)
    if args.out_md:
        os.makedirs(osp.dirname(osp.abspath(args.out_md)), exist_ok=True)
        with open(args.out_md, 'w') as f:
            f.write(f'<!-- {result["command"]} -->\n' + text)
    if args.out_plot:
        save_plot(result, args.out_plot)
    if args.out_json:
        os.makedirs(osp.dirname(osp.abspath(args.out_json)), exist_ok=True)
        with open(args.out_json, 'w') as f:
            json.dump(result, f, indent=1, default=str)
    bad = [r['label'] for r in result['rows']
           if r.get('parity') and not r['parity']['ok']]
    if bad:
        print(f'error: outputs differ from eager: {", ".join(bad)}',
              file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
