# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The ``heads`` mode: RGPHead against mmseg's decode heads on one encoder
(configs/heads/), timed and trained alike (docs/heads_benchmark.md)."""
import glob
import hashlib
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

import torch
from mmengine.config import Config

from rgpnet_mmseg.utils.timing import environment, time_round_robin
from .report import fmt, log, save_plot, table, write
from .training import REPO
from .zoo import complexity, model_rows

HEADS_DIR = osp.join(REPO, 'configs', 'heads')
MIXING = [osp.join(REPO, 'configs', 'mixing', f'bisenetv2_fcn_{v}demo.py')
          for v in ('', 'lr-pr_')]  # mmseg's model as shipped, ours in
QUICK_ITERS, QUICK_SHAPE = 4, [64, 128]


def add_arguments(add) -> None:
    """The options of the ``heads`` mode, to ``add`` (``add_argument``)."""
    add('--configs', nargs='+', help='head configs (configs/heads/*.py)')
    add('--seeds', type=int, nargs='+', default=[0, 1, 2],
        help='training seeds, randomness.seed (0 1 2)')
    add('--jobs', type=int, default=2,
        help='trainings at a time, one thread each (2)')
    add('--shape', type=int, nargs=2, default=[512, 1024],
        metavar=('H', 'W'), help='input of GFLOPs and latency (512 1024)')
    add('--mixing', action='store_true', help='also train mmseg\'s '
        'BiSeNetV2 as shipped and with label relaxation + resizing')
    add('--mixing-seeds', type=int, nargs='+',
        help='seeds of the --mixing runs (default: --seeds)')
    add('--quick', action='store_true', help=f'{QUICK_SHAPE[0]}x'
        f'{QUICK_SHAPE[1]}, {QUICK_ITERS} iterations, 1 seed, 2 configs')
    add('--work-dir', default='work_dirs/benchmark_heads',
        help='trainings (one folder per config and seed) and deployments')
    add('--out-md', help='write the tables (between its markers, if any)')
    add('--out-plot', help='write mIoU vs latency as a PNG')
    add('--out-json', help='write all figures as JSON')


def head_configs(paths: Optional[List[str]]) -> List[str]:
    """``paths``, or every config under configs/heads/ (not ``_base_``);
    ``FileNotFoundError`` for a missing one."""
    paths = paths or sorted(glob.glob(osp.join(HEADS_DIR, '*.py')))
    missing = [p for p in paths or [HEADS_DIR + '/*.py'] if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(f'config not found: {", ".join(missing)}')
    return [osp.abspath(p) for p in paths]


def config_hash(path: str) -> str:
    """A digest of the loaded config (bases included): a run is reused
    only for the config it was trained with."""
    text = json.dumps(Config.fromfile(path).to_dict(), sort_keys=True,
                      default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def load_result(folder: str, digest: str) -> Optional[Dict[str, Any]]:
    """The ``result.json`` of a finished run of this config, else None."""
    try:
        with open(osp.join(folder, 'result.json')) as f:
            result = json.load(f)
    except (OSError, ValueError):
        return None
    return result if result.get('config_hash') == digest else None


def train(path: str, seed: int, folder: str, digest: str, quick: bool
          ) -> None:
    """One ``tools/train.py`` run (one thread, no checkpoints); its demo
    val mIoU (IoUMetric at the end) and mean logged s/iter from mmengine's
    ``scalars.json`` into ``folder/result.json``."""
    opts = [f'randomness.seed={seed}', 'default_hooks.checkpoint=None']
    if quick:
        opts += [f'train_cfg.max_iters={QUICK_ITERS}', 'train_cfg.val_'
                 f'interval={QUICK_ITERS}', 'default_hooks.logger.interval=1']
    os.makedirs(folder, exist_ok=True)
    start, logfile = time.time(), osp.join(folder, 'train.log')
    with open(logfile, 'w') as f:
        rc = subprocess.call(
            [sys.executable, osp.join(REPO, 'tools', 'train.py'), path,
             '--work-dir', folder, '--cfg-options', *opts], cwd=REPO,
            stdout=f, stderr=subprocess.STDOUT, env=dict(
                os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1'))
    scalars = sorted(glob.glob(osp.join(folder, '*/vis_data/scalars.json')))
    lines = [json.loads(s) for s in open(scalars[-1])] if scalars else []
    val = [s for s in lines if 'mIoU' in s]
    if rc or not val:
        return log(f'  FAILED: {osp.basename(path)} seed {seed} (exit '
                   f'{rc}), see {logfile}')
    its = [s['time'] for s in lines if 'iter' in s and 'time' in s]
    result = dict(seed=seed, mIoU=val[-1]['mIoU'], iters=val[-1]['step'],
                  s_per_iter=statistics.mean(its) if its else None,
                  wall_s=time.time() - start, config_hash=digest)
    with open(osp.join(folder, 'result.json'), 'w') as f:
        json.dump(result, f, indent=1)
    log(f'  {osp.basename(path)} seed {seed}: mIoU {result["mIoU"]:.2f} '
        f'({result["wall_s"]:.0f} s)')


def plan(paths: List[str], args, root: str) -> List[tuple]:
    """(config, seed, run folder) of every run: ``--seeds`` of each head,
    ``--mixing-seeds`` (default ``--seeds``) of the mixing configs."""
    mixing_seeds = getattr(args, 'mixing_seeds', None) or args.seeds
    return [(p, s, osp.join(root, osp.splitext(osp.basename(p))[0],
                            f'seed{s}')) for p in paths
            for s in (mixing_seeds if p in MIXING else args.seeds)]


def train_all(paths: List[str], args, root: str) -> Dict[str, list]:
    """Config -> its runs' results in seed order (None: failed); trains
    the runs without a result, ``--jobs`` at a time."""
    digests, runs = {p: config_hash(p) for p in paths}, plan(paths, args, root)
    todo = [r for r in runs if load_result(r[2], digests[r[0]]) is None]
    log(f'trainings: {len(runs) - len(todo)} of {len(runs)} done before, '
        f'{len(todo)} to run, {args.jobs} at a time')
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        list(pool.map(lambda r: train(*r, digests[r[0]], args.quick), todo))
    return {p: [load_result(d, digests[p]) for q, _, d in runs if q == p]
            for p in paths}


def seed_stats(results: List[Optional[dict]]) -> Dict[str, Any]:
    """mIoU per seed, mean and sample std (n - 1) over the seeds, mean
    s/iter; None where no run finished."""
    done = [r for r in results if r]
    miou, s_it = [r['mIoU'] for r in done], [
        r['s_per_iter'] for r in done if r['s_per_iter']]
    return dict(seeds=[r['seed'] for r in done], mIoU_per_seed=miou,
                mIoU_mean=statistics.mean(miou) if miou else None,
                mIoU_std=statistics.stdev(miou) if len(miou) > 1 else None,
                s_per_iter=statistics.mean(s_it) if s_it else None)


def measure(paths: List[str], args, root: str) -> List[dict]:
    """Per config: params and MACs of the head alone (on the encoder's
    features) and of the model (no auxiliary heads) at ``--shape``; eager
    and ONNX Runtime latency (:func:`.zoo.model_rows`), one timing loop."""
    x, rows, fns = torch.randn(1, 3, *args.shape, device=args.device), [], {}
    for path in paths:
        cfg, name, skipped = Config.fromfile(path), osp.splitext(
            osp.basename(path))[0], []
        eager, *ort = model_rows(name, name, cfg, x, ['onnxruntime'], args,
                                 root, fns, skipped)
        model = eager.pop('model')
        with torch.no_grad():
            head = complexity(model.decode_head, model.extract_feat(x))
        note = [f'ONNX by the {r["note"]}' for r in ort if 'legacy' not in
                r['note']] + ['no ONNX Runtime row: ' + m.partition(
                    'skipped (')[2][:160].rstrip(')') for m in skipped]
        rows.append(dict(name=name, head=cfg.model.decode_head.type,
                         config=osp.relpath(path, REPO), head_only=head,
                         model=dict(params=eager['params'],
                                    macs=eager['macs']), note=''.join(note)))
    ms = {k: statistics.median(t) * 1e3 for k, t in time_round_robin(
        fns, args.repeats, args.warmup, args.device, log=log).items()}
    for r in rows:
        r.update(eager_ms=ms.get(r['name']),
                 ort_ms=ms.get(r['name'] + ':onnxruntime'))
    return rows


def run(args) -> int:
    """The ``heads`` mode; 1 for a missing config or a failed training."""
    start = time.time()
    try:
        paths = head_configs(args.configs)
    except FileNotFoundError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    root = osp.join(args.work_dir, 'quick') if args.quick else args.work_dir
    if args.quick:
        paths, args.seeds, args.shape = paths[:2], args.seeds[:1], QUICK_SHAPE
        args.mixing_seeds = (args.mixing_seeds or args.seeds)[:1]
        args.repeats, args.warmup = min(args.repeats, 2), min(args.warmup, 1)
    env, rows = environment(args.device, args.threads), measure(
        paths, args, root)
    trained = train_all(paths + (MIXING if args.mixing else []), args, root)
    for r, p in zip(rows, paths):
        r.update(seed_stats(trained[p]))
    result = dict(command=args.command, env=env, shape=args.shape,
                  seeds=args.seeds, rows=rows, repeats=args.repeats,
                  warmup=args.warmup, quick=args.quick, mixing=[dict(
                      config=osp.relpath(p, REPO), **seed_stats(trained[p]))
                      for p in MIXING if p in trained],
                  wall_s=time.time() - start)
    write(build_tables(result), result, args.out_md, args.out_json,
          args.out_plot, plot)
    return int(any(None in v for v in trained.values()))


def build_tables(result: Dict[str, Any]) -> str:
    """The markdown: the command, environment, wall time, the heads table
    and, with ``--mixing``, the BiSeNetV2 rows."""
    (h, w), iters = result['shape'], (f'{QUICK_ITERS} iterations (--quick)'
                                      if result['quick'] else 'its schedule')

    def miou(r):
        return (f'{fmt(r["mIoU_mean"])} ± {fmt(r["mIoU_std"])}', ', '.join(
            fmt(v) for v in r['mIoU_per_seed']))
    lines = [
        '**Placeholder, a `--quick` run: the format only.** ' *
        result['quick'] + f'`{result["command"]}`', '',
        f'{result["env"]["line"]}; wall time {result["wall_s"] / 60:.1f} min'
        f'. Latency: input 1x3x{h}x{w}, the network alone (image tensor to '
        f'the logits at the input size), median of {result["repeats"]} '
        f'rounds after {result["warmup"]} warm-up, round-robin over every '
        'head and backend; ONNX Runtime: the BN-folded deployment. GFLOPs: '
        'mmengine (= GMACs), at the same input; model = encoder + head. '
        f'mIoU: demo val, {iters}, seeds '
        f'{" ".join(map(str, result["seeds"]))}, mean ± sample std.'
    ] + table(
        'head | config | params head / total (M) | GFLOPs head / total | '
        'eager ms | ORT ms | mIoU | per seed | train s/iter', [[
            r['head'], f'`{r["name"]}`', *(
                f'{fmt(r["head_only"][k] / 1e6 / s)} / '
                f'{fmt(r["model"][k] / 1e6 / s)}'
                for k, s in (('params', 1), ('macs', 1e3))),
            fmt(r['eager_ms'], 1), fmt(r['ort_ms'], 1), *miou(r),
            fmt(r['s_per_iter'])] for r in result['rows']])
    if result['mixing']:
        lines += ['', 'Mixing: mmseg\'s BiSeNetV2 (its shipped model config)'
                  ' on the demo data, as shipped and with our '
                  'LabelRelaxationLoss + ProgressiveResizeHook; it/s: 1 / '
                  'the mean logged s/iter (1 thread).'] + table(
            'config | mIoU | per seed | train it/s', [
                [f'`{r["config"]}`', *miou(r),
                 fmt(r['s_per_iter'] and 1 / r['s_per_iter'])]
                for r in result['mixing']])
    notes = [f'- `{r["name"]}`: {r["note"]}' for r in result['rows']
             if r['note']]
    return '\n'.join(lines + ([''] + notes if notes else [])) + '\n'


def plot(result: Dict[str, Any], path: str) -> None:
    """mIoU against ONNX Runtime latency (eager if a head has none), one
    point per head, error bars of one std over the seeds; ours red."""
    rows = [r for r in result['rows'] if r['mIoU_mean'] is not None]
    kind = 'ort' if all(r['ort_ms'] for r in rows) else 'eager'
    env, (h, w) = result['env'], result['shape']
    save_plot(
        path, [(r[f'{kind}_ms'], r['mIoU_mean']) for r in rows],
        [('s', 'tab:red', True) if r['head'].startswith('RGP') else
         ('o', 'tab:blue', True) for r in rows],
        [r['name'].split('_')[0] for r in rows],
        [(('o', 'tab:blue', True), 'mmseg'), (('s', 'tab:red', True), 'ours')],
        f'{"--quick: " * result["quick"]}{len(rows)} heads, '
        f'{len(result["seeds"])} seed(s); {env["device"]}, {env["threads"]} '
        'thread(s)', yerr=[r['mIoU_std'] or 0 for r in rows],
        ylabel='demo val mIoU (mean ± std over seeds)', xlabel=dict(
            ort='ONNX Runtime', eager='eager')[kind] + f' latency at {h}x{w}, '
        'median (ms)')
