# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The ``zoo`` mode: RGPNet beside mmseg's real-time models, their fast
paths, the GEMM ceiling (docs/benchmark_zoo.md)."""
import functools
import math
import os
import os.path as osp
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from typing import Any, Callable, Dict, List, Tuple

import mmseg
import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config

from rgpnet_mmseg.models import fuse_conv_bn
from rgpnet_mmseg.utils.timing import (environment, load_average,
                                       time_round_robin)
from .deploy import deploy, network
from .report import fmt, log, save_plot, table, write
from .training import REPO, batches, build_segmentor, forward, model_config

ZOO = {  # key: (label, config: 'mmseg::' under mmseg/.mim/configs, else ours)
    'bisenetv1-r18': ('BiSeNetV1-R18', 'mmseg::bisenetv1/'
                      'bisenetv1_r18-d32_4xb4-160k_cityscapes-1024x1024.py'),
    'bisenetv2': ('BiSeNetV2', 'mmseg::bisenetv2/'
                  'bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024.py'),
    'stdc1': ('STDC1', 'mmseg::stdc/stdc1_4xb12-80k_cityscapes-512x1024.py'),
    'stdc2': ('STDC2', 'mmseg::stdc/stdc2_4xb12-80k_cityscapes-512x1024.py'),
    'ddrnet-23-slim': ('DDRNet-23-slim', 'mmseg::ddrnet/ddrnet_23-slim_'
                       'in1k-pre_2xb6-120k_cityscapes-1024x1024.py'),
    'pidnet-s': ('PIDNet-S', 'mmseg::pidnet/'
                 'pidnet-s_2xb6-120k_1024x1024-cityscapes.py'),
    'fast-scnn': ('Fast-SCNN', 'mmseg::fastscnn/'
                  'fast_scnn_8xb4-160k_cityscapes-512x1024.py'),
    'icnet-r18': ('ICNet-R18-D8', 'mmseg::icnet/'
                  'icnet_r18-d8_4xb2-80k_cityscapes-832x832.py'),
    **{f'rgpnet-r{d}': (f'RGPNet-R{d}', f'configs/rgpnet_r{d}_cityscapes.py')
       for d in (18, 50, 101)},
}
REFERENCE = 'rgpnet-r18'
FAST_LABELS = {'fused': 'fused BN', 'channels-last':
               'fused BN + channels-last', 'compile':
               'torch.compile (inductor, freezing)', 'onnxruntime':
               'onnxruntime (CPU EP)'}
PATHS = {**FAST_LABELS, 'onnxruntime-int8': 'onnxruntime INT8 (CPU EP)'}
MARKERS = dict(zip(PATHS, 'v^DPX'))  # of the fast paths in the plot
TORCH_PATHS = ('eager', 'fused', 'channels-last', 'compile')  # --fp16's
CALIB_CFG = 'configs/rgpnet_r18_demo.py'  # INT8: calibrated on its val set
GEMM_N, GEMM_N_CUDA, GEMM_REPS = 2048, 8192, 3  # products per sample
MAX_LOGITS_REL_DIFF = 1e-3  # parity: of the logits' scale
LAYER_KINDS = dict(Conv2d='conv', ConvTranspose2d='conv-transpose',
                   BatchNorm2d='batch norm', ReLU='activation',
                   MaxPool2d='pooling')  # of --profile's breakdown


def add_arguments(add) -> None:
    """The options of the ``zoo`` mode, to ``add`` (``add_argument``)."""
    keys = dict(choices=list(ZOO), metavar='KEY')
    add('--models', nargs='+', default=list(ZOO), help=' '.join(ZOO), **keys)
    add('--shape', type=int, nargs=2, help='512 1024 (CPU), 1024 2048 (GPU)')
    add('--fast-paths', nargs='*', default=list(PATHS), choices=list(PATHS),
        help='extra rows (default: all)')
    add('--fp16', action='store_true', help='also FP16 (torch.autocast) '
        'rows of eager and the torch fast paths')
    add('--fast-models', nargs='*', default=['bisenetv1-r18', REFERENCE],
        **keys)
    add('--train', action='store_true', help='also training it/s')
    add('--train-models', nargs='+', default=[REFERENCE, 'bisenetv1-r18'],
        **keys)
    add('--train-iters', type=int, default=3, help='timed iterations (3)')
    add('--train-batch', type=int, default=2, help='batch size (2)')
    add('--train-shape', type=int, nargs=2, default=[512, 1024])
    add('--profile', action='store_true', help='RGPNet-R18 by op and layer')
    add('--out-md', help='write the tables as markdown')
    add('--out-plot', help='write latency vs GFLOPs as a PNG')
    add('--out-json', help='write all figures and times as JSON')
    add('--work-dir', help='for the deployments (default: a temporary one)')


def load_config(key: str) -> Config:
    """The config of a zoo model."""
    scope, _, path = ZOO[key][1].rpartition('::')
    root = osp.join(osp.dirname(mmseg.__file__), '.mim/configs')
    return Config.fromfile(osp.join(root if scope else REPO, path))


def complexity(model, x) -> Dict[str, float]:
    """Parameters and MACs (mmengine's "flops") of ``model(x)``, as
    ``mmengine.analysis.get_model_complexity_info`` counts them."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        analyzer = FlopAnalyzer(model, (x, ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        return dict(params=parameter_count(model)[''], macs=analyzer.total())


def gemm_fns(device) -> Tuple[Dict[str, Callable], float]:
    """(name -> ``GEMM_REPS`` n^3 fp32 products, FLOPs): ``torch.mm`` (MKL
    on the CPU) and oneDNN's mkldnn ``Linear`` (CPU)."""
    cuda = str(device).startswith('cuda')
    n = GEMM_N_CUDA if cuda else GEMM_N
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    reps, out = range(GEMM_REPS), a.clone()
    fns = {f'torch.mm{"" if cuda else " (MKL)"}':
           lambda: [torch.mm(a, b, out=out) for _ in reps]}
    if not cuda and torch.backends.mkldnn.is_available():
        from torch.utils.mkldnn import to_mkldnn
        lin, am = to_mkldnn(torch.nn.Linear(n, n, bias=False)), a.to_mkldnn()
        fns['oneDNN (mkldnn Linear)'] = lambda: [lin(am) for _ in reps]
    return fns, 2.0 * n**3 * GEMM_REPS


def parity(ref, out, gate: bool = True) -> Dict[str, Any]:
    """``out`` against eager's logits ``ref``: ``logits_max_abs_diff``,
    ``pixel_agreement`` (argmax) and ``ok``: no logit off by more than
    ``MAX_LOGITS_REL_DIFF`` of their scale (None unless ``gate``)."""
    ref, out = ref.float().cpu(), torch.as_tensor(out).float().cpu()
    diff, scale = (out - ref).abs().max().item(), ref.abs().max().item()
    return dict(logits_max_abs_diff=diff, ok=diff <= MAX_LOGITS_REL_DIFF * max(
        1.0, scale) if gate else None, pixel_agreement=(
            out.argmax(1) == ref.argmax(1)).float().mean().item())


def fast_path(path: str, model, cfg: Config, x, threads, work_dir: str
              ) -> Tuple[Callable[[], Any], str]:
    """(callable on ``x``, note) of a path: eager, BN folded, + channels-last
    (input converted in the call), ``torch.compile`` of that (inductor,
    freezing; compiled here, under the caller's autocast), or ``model``
    (``cfg``) on ONNX Runtime's CPU EP, FP32 or INT8 (``CALIB_CFG``)."""
    if path == 'eager':
        return lambda: forward(model, x), ''
    if path.startswith('onnxruntime'):
        name = osp.join(work_dir, path)  # + '.pth': the model's weights
        os.makedirs(work_dir, exist_ok=True)
        torch.save(dict(state_dict=model.state_dict()), name + '.pth')
        calib = dict(dataset_cfg=osp.join(REPO, CALIB_CFG)) if path.endswith(
            'int8') else None
        to_ort = functools.partial(deploy, path, model_config(cfg), name +
                                   '.pth', list(x.shape[2:]), name,
                                   threads=threads, calib=calib)
        try:  # dynamo where legacy cannot (mmseg's PSP/UPerHead: bins
            seg, info = to_ort(exporter='legacy')  # that do not divide 1/32)
        except Exception:  # noqa: BLE001 - e.g. adaptive_avg_pool2d
            seg, info = to_ort(exporter='dynamo')
        return network(seg, x.cpu()), f'{info["exporter"]} exporter' + (
            f', calibrated on the val images of {CALIB_CFG}' * bool(calib))
    cl, fused = torch.channels_last, fuse_conv_bn(model)
    if path == 'fused':
        return lambda: forward(fused, x), ''
    fused = fused.to(memory_format=cl)
    if path == 'channels-last':
        return lambda: forward(fused, x.contiguous(memory_format=cl)), ''
    import torch._inductor.config as inductor_config
    xc, compiled = x.contiguous(memory_format=cl), torch.compile(
        functools.partial(forward, fused))
    start = time.perf_counter()
    with inductor_config.patch(freezing=True), torch.inference_mode():
        compiled(xc)  # compiles; freezing is read here
    return (lambda: compiled(xc),
            f'compile {time.perf_counter() - start:.0f} s')


def layer_breakdown(model, x) -> Dict[str, Any]:
    """``--profile``: of one ``forward(model, x)`` each, self CPU time by
    aten op (torch.profiler), time, calls and MACs by layer kind and output
    level (hooks on the leaf modules)."""
    from torch.profiler import ProfilerActivity, profile
    forward(model, x)  # warm
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        forward(model, x)
    events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total_us = sum(e.self_cpu_time_total for e in events) or 1
    records, starts, handles = {}, {}, []

    def post(m, inp, out):
        seconds, macs = time.perf_counter() - starts.pop(id(m)), 0
        kind = LAYER_KINDS.get(type(m).__name__, type(m).__name__)
        if kind.startswith('conv'):  # MACs: output (input) pixels x weights
            pixels = (inp[0] if 'transpose' in kind else out)[:, 0].numel()
            macs, kind = pixels * m.weight.numel(), kind + (
                f' {m.kernel_size[0]}x{m.kernel_size[1]}' +
                (' (image)' if m.in_channels <= 4 else ''))
        level = (f'1/{max(1, round(x.shape[-2] / out.shape[-2]))}'
                 if getattr(out, 'ndim', 0) == 4 else '')
        rec = records.setdefault((kind, level), [0, 0.0, 0])
        rec[:] = rec[0] + 1, rec[1] + seconds, rec[2] + macs

    for m in model.modules():
        if not list(m.children()) and type(m).__name__ != 'Identity':
            handles += [m.register_forward_hook(post),
                        m.register_forward_pre_hook(lambda m, _: starts.update(
                            {id(m): time.perf_counter()}))]
    start = time.perf_counter()
    forward(model, x)
    total = time.perf_counter() - start
    for h in handles:
        h.remove()
    layers = sorted(([k, lv, *rec] for (k, lv), rec in records.items()),
                    key=lambda r: -r[3])
    layers.append(['(between layers: adds, crops, Python)', '', '',
                   total - sum(r[3] for r in layers), 0])
    return dict(
        op_total_ms=total_us / 1e3, layer_total_ms=total * 1e3,
        ops=[dict(op=e.key, calls=e.count, ms=e.self_cpu_time_total / 1e3,
                  share=e.self_cpu_time_total / total_us)
             for e in events[:12]],
        layers=[dict(kind=k, level=lv, calls=c, ms=s * 1e3, share=s / total,
                     gmacs=macs / 1e9,
                     gflops_per_s=2 * macs / s / 1e9 if macs else None)
                for k, lv, c, s, macs in layers])


def model_rows(key: str, label: str, cfg: Config, x, paths: List[str], args,
               work_dir: str, fns: dict, skipped: list) -> list:
    """The rows of one model (the zoo's, the heads'): eager (with its
    ``model``), its ``paths`` with their parity (a failing one left out,
    why in ``skipped``), with ``args.fp16`` eager and the torch paths under
    FP16 autocast (no parity gate, as INT8); callables into ``fns``."""
    model = build_segmentor(cfg).to(x.device)
    cplx = complexity(model, x)
    with torch.inference_mode():
        ref = forward(model, x)
    log(f'{label}: {cplx["params"] / 1e6:.2f} M params, '
        f'{cplx["macs"] / 1e9:.2f} GMACs, output {tuple(ref.shape)}')
    fp16 = getattr(args, 'fp16', False)
    rows = [dict(key=key, label=label, kind='eager', base=key, parity=None,
                 note='', model=model, fp16=False, **cplx)]
    fns[key] = lambda: forward(model, x)
    for path, half in [(p, False) for p in paths] + [
            (p, True) for p in ('eager', *paths) if fp16 and p in TORCH_PATHS]:
        row = dict(key=f'{key}:{path}' + ':fp16' * half, kind=path, base=key,
                   label=' '.join([label, *[PATHS.get(path)] * (
                       path != 'eager'), *['FP16 (autocast)'] * half]),
                   fp16=half, **cplx)
        amp = torch.autocast(x.device.type, torch.float16, enabled=half)
        try:
            with amp:  # torch.compile compiles under it
                fn, row['note'] = fast_path(path, model, cfg, x, args.threads,
                                            osp.join(work_dir, key))
            fn = amp(fn) if half else fn  # as a decorator
            with torch.inference_mode():
                row['parity'] = parity(ref, fn(), path in FAST_LABELS and
                                       not half)
        except Exception as err:  # keep the table, say what failed
            skipped.append(f'{row["label"]}: skipped ({type(err).__name__}: '
                           f'{err})')
            log('  ' + skipped[-1])
            continue
        if row['parity']['ok'] is False:
            log(f'  WARNING: {row["label"]} differs from eager: max |diff| '
                f'{row["parity"]["logits_max_abs_diff"]:.3g}')
        fns[row['key']] = fn
        rows.append(row)
    return rows


def run(args) -> int:
    """The ``zoo`` mode; 1 when a fast path differs from eager."""
    device = torch.device(args.device)
    shape = args.shape or ([1024, 2048] if device.type == 'cuda' else
                           [512, 1024])
    x = torch.randn(1, 3, *shape, device=device)
    work_dir = args.work_dir or tempfile.mkdtemp(prefix='benchmark_zoo_')
    rows, fns, skipped = [], {}, []
    for key in args.models:
        rows += model_rows(key, ZOO[key][0], load_config(key), x,
                           args.fast_paths if key in args.fast_models else [],
                           args, work_dir, fns, skipped)
    models = {r['key']: r.pop('model') for r in rows if 'model' in r}
    gemms, flops = gemm_fns(device)
    fns.update(gemms)
    result = dict(shape=shape, repeats=args.repeats, warmup=args.warmup,
                  env=environment(device, args.threads), train=None,
                  skipped=skipped, load_before=load_average(), profile={},
                  command=args.command)
    with torch.inference_mode():
        times = time_round_robin(fns, args.repeats, args.warmup, device,
                                 log=log)
        ref = models.get(REFERENCE)
        if args.profile and ref is not None and device.type == 'cpu':
            fast = fuse_conv_bn(ref).to(memory_format=torch.channels_last)
            result['profile'] = {
                'RGPNet-R18 eager': layer_breakdown(ref, x),
                'RGPNet-R18 fused BN + channels-last': layer_breakdown(
                    fast, x.contiguous(memory_format=torch.channels_last))}
    train = {}
    if args.train:
        steps = {k: functools.partial(lambda d, m, o: m.train_step(d, o),
                                      m=m.to(device), o=o)
                 for k in args.train_models for m, o in [build_segmentor(
                     load_config(k), args.train_shape)]}
        train = time_round_robin(steps, args.train_iters, 1, device, batches(
            args.train_batch, args.train_shape, args.seed)[0])
        result['train'] = dict(batch=args.train_batch, times=train,
                               shape=args.train_shape, iters=args.train_iters)
    rates = {k: [flops / t / 1e9 for t in times[k]] for k in gemms}
    gemm = {k: statistics.median(v) for k, v in rates.items()}
    best = max(gemm, key=gemm.get)
    result.update(load_after=load_average(), rows=rows, ceiling=dict(
        gemm=gemm, best=gemm[best], best_name=best, samples=rates,
        best_sample=max(max(v) for v in rates.values())))
    for r in rows:
        lat = statistics.median(times[r['key']])
        rate = 2 * r['macs'] / lat / 1e9
        r.update(latency_ms=lat * 1e3, fps=1 / lat, gflops_per_s=rate,
                 ceiling_fraction=rate / gemm[best],
                 times_ms=[t * 1e3 for t in times[r['key']]])
        if r['kind'] == 'eager' and r['key'] in train:
            r['train_its'] = 1 / statistics.median(train[r['key']])
    write(build_tables(result), result, args.out_md, args.out_json,
          args.out_plot, plot)
    if not args.work_dir:  # the temporary one
        shutil.rmtree(work_dir, ignore_errors=True)
    bad = [r['label'] for r in rows
           if r['parity'] and r['parity']['ok'] is False]
    if bad:
        print(f'error: outputs differ from eager: {", ".join(bad)}',
              file=sys.stderr)
    return 1 if bad else 0


def build_tables(result: Dict[str, Any]) -> str:
    """The markdown of the results (the tables of docs/benchmark_zoo.md)."""
    rows, ceiling, env = result['rows'], result['ceiling'], result['env']
    ref = next((r['latency_ms'] for r in rows if r['key'] == REFERENCE),
               math.nan)
    n = GEMM_N_CUDA if env['device'].startswith('cuda') else GEMM_N
    gemm = ', '.join(f'{k} {fmt(v, 1)}' for k, v in ceiling['gemm'].items())
    lines = [
        f'`{result["command"]}`', '',
        f'Input 1x3x{result["shape"][0]}x{result["shape"][1]}, batch 1, fp32,'
        f' {env["line"]} (when it started; {result["load_before"]} when '
        f'the timing started, {result["load_after"]} at the end); median of '
        f'{result["repeats"]} runs after {result["warmup"]} warm-up, '
        'round-robin; image tensor to the logits at the input size.', '',
        f'GEMM ceiling ({n}^3 fp32, {GEMM_REPS} products per sample, same '
        f'threads, median GFLOP/s): {gemm}; ceiling = '
        f'{fmt(ceiling["best"], 1)} GFLOP/s ({ceiling["best_name"]}; best '
        f'single sample {fmt(ceiling["best_sample"], 1)}).'
    ] + table(
        'model | params (M) | GFLOPs (mmengine, = GMACs) | latency (ms) | '
        'FPS | latency / RGPNet-R18 | achieved GFLOP/s (2 x MACs / latency) '
        '| % of GEMM ceiling | train it/s | parity vs eager (max abs diff)',
        [[r['label'], fmt(r['params'] / 1e6), fmt(r['macs'] / 1e9),
          fmt(r['latency_ms'], 1), fmt(r['fps']), fmt(r['latency_ms'] / ref),
          fmt(r['gflops_per_s'], 1), fmt(r['ceiling_fraction'] * 100, 1),
          fmt(r.get('train_its'), 3), '-' if not r['parity'] else
          f'{r["parity"]["logits_max_abs_diff"]:.1e} (argmax '
          f'{100 * r["parity"]["pixel_agreement"]:.2f} %)' +
          (' **MISMATCH**' if r['parity']['ok'] is False else '')]
         for r in rows])
    if result['train']:
        t = result['train']
        lines += ['', 'Training: `model.train_step` (data preprocessor, all '
                  'losses incl. auxiliary heads, backward, the config\'s '
                  f'SGD), batch {t["batch"]} at {t["shape"][0]}x'
                  f'{t["shape"][1]}, random images and "regions" labels, '
                  f'median of {t["iters"]} iterations after one untimed.']
    notes = [f'- {r["label"]}: {r["note"]}' for r in rows if r['note']] + [
        f'- {msg}' for msg in result['skipped']] + [
        '- FP16 (autocast) and INT8 rows: their parity is their agreement '
        'with eager FP32, not a gate; their GFLOP/s are against the FP32 '
        'GEMM ceiling.'] * any(r['fp16'] or r['kind'] not in FAST_LABELS and
                               r['kind'] != 'eager' for r in rows)
    lines += [''] + notes if notes else []
    for name, prof in result['profile'].items():
        lines += ['', f'### Where the time goes: {name}', '',
                  'torch.profiler, self CPU time by op (one call, '
                  f'{fmt(prof["op_total_ms"], 1)} ms in all):'] + table(
            'op | calls | ms | share',
            [[f'`{r["op"]}`', r['calls'], fmt(r['ms'], 1),
              f'{fmt(100 * r["share"], 1)} %'] for r in prof['ops']])
        lines += ['', 'By layer kind and output level (forward hooks on leaf '
                  f'modules; {fmt(prof["layer_total_ms"], 1)} ms per call):'
                  ] + table(
            'layer | level | calls | ms | share | GMACs | GFLOP/s',
            [[r['kind'], r['level'], r['calls'], fmt(r['ms'], 1),
              f'{fmt(100 * r["share"], 1)} %', fmt(r['gmacs']),
              fmt(r['gflops_per_s'], 0)] for r in prof['layers']])
    return '\n'.join(lines) + '\n'


def plot(result: Dict[str, Any], path: str) -> None:
    """Latency vs GFLOPs (log-log), one point per FP32 row, labels on the
    eager ones, and the latency at the GEMM ceiling (2 x MACs / ceiling)."""
    rows = [r for r in result['rows']
            if math.isfinite(r['latency_ms']) and not r['fp16']]
    ours, lat = [r['base'].startswith('rgpnet') for r in rows], [
        r['latency_ms'] for r in rows]
    ceiling, gflops = result['ceiling']['best'], [r['macs'] / 1e9
                                                  for r in rows]
    ends, (h, w), env = [min(gflops) / 1.3, max(gflops) * 1.3], result[
        'shape'], result['env']
    save_plot(
        path, list(zip(gflops, lat)),
        [(('s' if o else 'o') if r['kind'] == 'eager' else MARKERS[r['kind']],
          'tab:red' if o else 'tab:blue', r['kind'] == 'eager')
         for r, o in zip(rows, ours)],
        [r['label'] if r['kind'] == 'eager' else '' for r in rows],
        [(('o', 'tab:blue', True), 'mmseg, eager'),
         (('s', 'tab:red', True), 'RGPNet, eager')] + [
            ((MARKERS[k], 'k', False), PATHS[k]) for k in PATHS
            if any(r['kind'] == k for r in rows)],
        f'{h}x{w}, batch 1, fp32, {env["device"]}, {env["threads"]} '
        f'thread(s), load {result["load_before"]}', log=True,
        line=(ends, [2e3 * g / ceiling for g in ends],
              f'at the GEMM ceiling ({ceiling:.0f} GFLOP/s)'),
        xlabel='GFLOPs (mmengine convention: multiply-adds)',
        ylabel='latency, median (ms)', ylim=(min(lat) / 1.6, max(lat) * 1.4))
