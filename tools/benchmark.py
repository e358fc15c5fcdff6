# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Benchmark RGPNet: four modes, one timing loop, one environment report.

    python tools/benchmark.py zoo [--models KEY ...] [--fast-paths ...]
        [--train] [--profile] [--out-md F] [--out-plot F] [--out-json F]
    python tools/benchmark.py deploy CONFIG [--checkpoint CKPT]
        [--backend pytorch onnxruntime tensorrt] [--fp16] [--onnx F]
        [--engine F]
    python tools/benchmark.py training [--crop H W] [--batch 2] [--json F]
    python tools/benchmark.py loss

each with ``[--repeats N] [--warmup N] [--threads N] [--device cpu|cuda]``:
``zoo``: RGPNet beside mmseg's real-time models, fast paths, GEMM ceiling
(``benchmark_zoo.py``, docs/benchmark_zoo.md); ``deploy``: a config on
PyTorch, ONNX Runtime and TensorRT, image in, labels out
(docs/deployment.md); ``training``: training speed at the progressive
resizing scales with CE and label relaxation, and the schedule ratio;
``loss``: the two losses alone (``benchmark_training.py``,
docs/training_benchmark.md). Rows are timed round-robin by
:func:`rgpnet_mmseg.utils.timing.time_round_robin`.
"""
import argparse
import os
import os.path as osp
import statistics
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import benchmark_training  # noqa: E402
import benchmark_zoo  # noqa: E402

BACKENDS = ('pytorch', 'onnxruntime', 'tensorrt')


def deploy_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the ``deploy`` mode."""
    add = parser.add_argument
    add('config', help='model config')
    add('--checkpoint', help='checkpoint (default: random weights)')
    add('--shape', type=int, nargs=2, default=[512, 1024],
        metavar=('H', 'W'), help='input size (512 1024)')
    add('--backend', nargs='+', choices=BACKENDS, default=BACKENDS[:2],
        help='backends; the first is the base of the speed-up')
    add('--fp16', action='store_true', help='TensorRT in FP16')
    add('--onnx', help='time this ONNX file (default: export one)')
    add('--engine', help='time this TensorRT engine (default: build one)')
    add('--work-dir', default='work_dirs/benchmark', help='for exports')
    add('--exporter', choices=['auto', 'legacy', 'dynamo'])


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    modes = parser.add_subparsers(dest='mode', required=True)
    for mode, (add_arguments, _, repeats, warmup) in MODES.items():
        sub = modes.add_parser(mode)
        sub.add_argument('--repeats', type=int, default=repeats,
                         help=f'timed rounds, median reported ({repeats})')
        sub.add_argument('--warmup', type=int, default=warmup,
                         help=f'untimed rounds first ({warmup})')
        sub.add_argument('--threads', type=int,
                         help='torch and ONNX Runtime threads (theirs)')
        sub.add_argument('--device', help='cpu or cuda (cuda if available)')
        sub.add_argument('--seed', type=int, default=0, help='random seed')
        add_arguments(sub)
    args = parser.parse_args(argv)
    if min(args.repeats, 1 if args.threads is None else args.threads) < 1 \
            or args.warmup < 0:
        parser.error('--repeats and --threads must be >= 1, --warmup >= 0')
    return args


def run_deploy(args: argparse.Namespace) -> int:
    """Time a config's deployed computation (image in, labels out: model,
    resize, argmax) on each backend, exported with BN folded."""
    import torch
    from mmengine.model import revert_sync_batchnorm
    from mmseg.apis import init_model

    from rgpnet_mmseg.compat.tensorrt import tensorrt_unavailable_reason
    from rgpnet_mmseg.deploy import (DeployConfigError, ExporterError,
                                     SegmentorForExport, export_segmentor,
                                     onnxruntime_session)
    from rgpnet_mmseg.utils.timing import (environment, fmt, table,
                                           time_round_robin)
    reason = 'tensorrt' in args.backend and tensorrt_unavailable_reason()
    if reason:
        print(f'error: --backend tensorrt: {reason}', file=sys.stderr)
        return 1
    h, w = args.shape
    model = revert_sync_batchnorm(
        init_model(args.config, args.checkpoint, device='cpu'))
    os.makedirs(args.work_dir, exist_ok=True)
    onnx_file = args.onnx or osp.join(args.work_dir, f'end2end_{h}x{w}.onnx')
    if args.onnx is None and ('onnxruntime' in args.backend or (
            'tensorrt' in args.backend and not args.engine)):
        try:
            info = export_segmentor(model, onnx_file, (h, w),
                                    exporter=args.exporter)
        except (DeployConfigError, ExporterError) as err:
            print(f'error: {err}', file=sys.stderr)
            return 1
        print(f'exported {onnx_file} ({info["exporter"]} exporter, opset '
              f'{info["opset"]})')
    x, fns, details = torch.randn(1, 3, h, w), {}, {}
    for backend in args.backend:
        if backend == 'pytorch':
            module, xd = SegmentorForExport(model.to(args.device)), x.to(
                args.device)
            fns[backend] = torch.inference_mode()(lambda: module(xd))
            details[backend] = ('fp32', f'{args.device}, eager')
        elif backend == 'onnxruntime':
            session = onnxruntime_session(onnx_file, num_threads=args.threads)
            feed = {session.get_inputs()[0].name: x.numpy()}
            fns[backend] = lambda: session.run(None, feed)
            details[backend] = ('fp32', f'CPU EP, {args.threads or "default"}'
                                ' intra-op threads')
        else:
            fns[backend], details[backend] = tensorrt_fn(args, onnx_file, x)
    times = time_round_robin(fns, args.repeats, args.warmup, args.device)
    ms = {b: sorted(t * 1e3 for t in ts) for b, ts in times.items()}
    base = statistics.median(ms[args.backend[0]])
    print(f'\ninput 1x3x{h}x{w}, {args.warmup} warm-up + {args.repeats} '
          f'timed runs, round-robin; {environment(args.device)["line"]}')
    print('\n'.join(table(
        'backend | precision | median ms | p90 ms | FPS | speed-up | details',
        [[b, details[b][0], fmt(statistics.median(t)),
          fmt(t[min(len(t) - 1, int(0.9 * len(t)))]),
          fmt(1e3 / statistics.median(t)),
          f'{base / statistics.median(t):.2f}x', details[b][1]]
         for b, t in ms.items()])))
    return 0


def tensorrt_fn(args: argparse.Namespace, onnx_file: str, x):
    """The TensorRT row: mmdeploy's ``tensorrt`` backend wrapper (ours, see
    :mod:`rgpnet_mmseg.compat.tensorrt`) on ``--engine`` or on an engine
    built from ``onnx_file``."""
    import tensorrt
    from mmdeploy.backend.base import BACKEND_MANAGERS

    from rgpnet_mmseg.compat.tensorrt import build_engine
    precision = 'fp16' if args.fp16 else 'fp32'
    engine = args.engine or osp.join(
        args.work_dir, f'end2end_{x.shape[2]}x{x.shape[3]}_{precision}.engine')
    if args.engine is None:
        build_engine(onnx_file, engine, None, dict(fp16_mode=args.fp16),
                     args.device)
    wrapper = BACKEND_MANAGERS.find('tensorrt').build_wrapper([engine],
                                                              args.device)
    feed = {'input': x.to(args.device)}
    return (lambda: wrapper(feed)), (
        precision, f'{args.device}, TensorRT {tensorrt.__version__}')


MODES = {  # mode: (its options, its run, --repeats and --warmup defaults)
    'zoo': (benchmark_zoo.add_arguments, benchmark_zoo.run, 5, 1),
    'deploy': (deploy_arguments, run_deploy, 50, 10),
    'training': (benchmark_training.training_arguments,
                 benchmark_training.run_training, 5, 1),
    'loss': (lambda parser: None, benchmark_training.run_loss, 7, 1),
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    import torch

    import rgpnet_mmseg  # noqa: F401  (registers RGPHead & co.)
    from rgpnet_mmseg.utils.timing import environment
    args.device = args.device or ('cuda'
                                  if torch.cuda.is_available() else 'cpu')
    env = environment(args.device)
    if 'busy_note' in env:
        print(env['busy_note'], file=sys.stderr)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads or threads)
    try:
        return MODES[args.mode][1](args) or 0
    finally:  # in-process callers (tests) keep their thread count
        torch.set_num_threads(threads)


if __name__ == '__main__':
    sys.exit(main())
