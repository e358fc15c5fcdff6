# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The benchmark of rgpnet-mmseg, in four modes.

    python tools/benchmark.py zoo [--models KEY ...] [--shape H W]
        [--fast-paths fused channels-last compile onnxruntime]
        [--fast-models KEY ...] [--train] [--profile]
        [--out-md FILE] [--out-plot FILE] [--out-json FILE]
    python tools/benchmark.py deploy CONFIG [--checkpoint CKPT]
        [--shape H W] [--backend pytorch onnxruntime tensorrt] [--fp16]
        [--onnx FILE] [--engine FILE] [--work-dir DIR]
        [--exporter auto|legacy|dynamo]
    python tools/benchmark.py training [--crop H W] [--batch 2]
        [--config CFG] [--json FILE]
    python tools/benchmark.py loss

and in every mode ``[--repeats N] [--warmup N] [--threads N] [--device
cpu|cuda]``.

* ``zoo``: RGPNet beside mmseg's real-time models (parameters, GFLOPs,
  latency, GEMM ceiling, fast paths with parity, ``--train`` it/s,
  ``--profile``; ``tools/benchmark_zoo.py``, docs/benchmark_zoo.md);
* ``deploy``: one config on PyTorch, ONNX Runtime and TensorRT, image in,
  label map out (docs/deployment.md);
* ``training``: RGPNet-R18 training iterations at the progressive-resizing
  scales with CE and label relaxation, and the schedule ratio; ``loss``:
  the two losses alone (``tools/benchmark_training.py``,
  docs/training_benchmark.md).

Every mode times its rows with
:func:`rgpnet_mmseg.utils.timing.time_round_robin` (``--warmup`` untimed
rounds, then ``--repeats`` rounds that run every row once, in a rotating
order, each call synchronised with the device) and reports the machine
with :func:`rgpnet_mmseg.utils.timing.environment`.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import benchmark_training  # noqa: E402
import benchmark_zoo  # noqa: E402

BACKENDS = ('pytorch', 'onnxruntime', 'tensorrt')
# mode -> (defaults of --repeats and --warmup, help)
MODES = {
    'zoo': ((5, 1), 'RGPNet beside mmseg\'s real-time models'),
    'deploy': ((50, 10), 'one config on PyTorch / ONNX Runtime / TensorRT'),
    'training': ((5, 1), 'training iterations: scales x CE/LR'),
    'loss': ((7, 1), 'CrossEntropyLoss vs LabelRelaxationLoss'),
}


def deploy_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the ``deploy`` mode."""
    parser.add_argument('config', help='model config')
    parser.add_argument('--checkpoint', help='checkpoint (default: random '
                        'weights, the same speed)')
    parser.add_argument('--shape', type=int, nargs=2, default=[512, 1024],
                        metavar=('H', 'W'), help='input size (512 1024)')
    parser.add_argument('--backend', nargs='+', choices=BACKENDS,
                        default=['pytorch', 'onnxruntime'],
                        help='backends, the first is the speed-up\'s base')
    parser.add_argument('--fp16', action='store_true', help='TensorRT FP16')
    parser.add_argument('--onnx', help='time this ONNX file')
    parser.add_argument('--engine', help='time this TensorRT engine')
    parser.add_argument('--work-dir', default='work_dirs/benchmark',
                        help='where exported files go')
    parser.add_argument('--exporter', choices=['auto', 'legacy', 'dynamo'],
                        help='ONNX exporter (default: $RGPNET_ONNX_EXPORTER '
                        'or auto)')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest='mode', required=True)
    adders = dict(zoo=benchmark_zoo.add_arguments, deploy=deploy_arguments,
                  training=benchmark_training.training_arguments,
                  loss=benchmark_training.loss_arguments)
    for mode, ((repeats, warmup), text) in MODES.items():
        sub = modes.add_parser(mode, help=text, description=text)
        sub.add_argument('--repeats', type=int, default=repeats,
                         help=f'timed rounds, median reported ({repeats})')
        sub.add_argument('--warmup', type=int, default=warmup,
                         help=f'untimed rounds first ({warmup})')
        sub.add_argument('--threads', type=int, help='torch and ONNX '
                         'Runtime threads (default: theirs)')
        sub.add_argument('--device', help='cpu or cuda (default: cuda if '
                         'available, else cpu)')
        adders[mode](sub)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error('--repeats must be >= 1 and --warmup >= 0')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    return args


def run_deploy(args: argparse.Namespace) -> int:
    """Time the deployed computation (image in, label map out: backbone,
    head, resize, argmax) of ``args.config`` on each backend."""
    import torch
    from mmengine.model import revert_sync_batchnorm
    from mmseg.apis import init_model

    from rgpnet_mmseg.deploy import (DeployConfigError, ExporterError,
                                     SegmentorForExport, export_segmentor,
                                     onnxruntime_session)
    from rgpnet_mmseg.utils.timing import (describe, environment, summarize,
                                           time_round_robin)
    h, w = args.shape
    trt_engine = args.engine
    if 'tensorrt' in args.backend:
        from rgpnet_mmseg.compat.tensorrt import tensorrt_unavailable_reason
        reason = tensorrt_unavailable_reason()
        if reason:
            print(f'error: --backend tensorrt: {reason}', file=sys.stderr)
            return 1
    model = revert_sync_batchnorm(
        init_model(args.config, args.checkpoint, device='cpu'))
    os.makedirs(args.work_dir, exist_ok=True)
    onnx_file = args.onnx
    if onnx_file is None and ('onnxruntime' in args.backend or
                              ('tensorrt' in args.backend and not trt_engine)):
        onnx_file = osp.join(args.work_dir, f'end2end_{h}x{w}.onnx')
        try:
            info = export_segmentor(model, onnx_file, (h, w),
                                    with_argmax=True, exporter=args.exporter)
        except (DeployConfigError, ExporterError) as err:
            print(f'error: {err}', file=sys.stderr)
            return 1
        print(f'exported {onnx_file} ({info["exporter"]} exporter, opset '
              f'{info["opset"]})')
    x = torch.randn(1, 3, h, w)
    fns, rows = {}, {}
    for backend in args.backend:
        if backend == 'pytorch':
            module = SegmentorForExport(model.to(args.device)).eval()
            xd = x.to(args.device)
            fns[backend] = torch.inference_mode()(lambda: module(xd))
            rows[backend] = ('fp32', f'{args.device}, eager')
        elif backend == 'onnxruntime':
            session = onnxruntime_session(onnx_file,
                                          num_threads=args.threads)
            feed = {session.get_inputs()[0].name: x.numpy()}
            fns[backend] = lambda s=session: s.run(None, feed)
            threads = args.threads or 'default'
            rows[backend] = ('fp32', f'CPU EP, {threads} intra-op threads')
        else:
            fns[backend], rows[backend] = tensorrt_fn(args, onnx_file, x)
    times = time_round_robin(fns, args.repeats, args.warmup, args.device)
    stats = {b: summarize(t) for b, t in times.items()}
    print(f'\ninput 1x3x{h}x{w}, {args.warmup} warm-up + {args.repeats} '
          f'timed runs, round-robin; {describe(environment(args.device))}')
    header = (f'{"backend":<12} {"prec":<5} {"median ms":>10} {"p90 ms":>9} '
              f'{"FPS":>8} {"speed-up":>9}  details')
    print(header + '\n' + '-' * len(header))
    base = stats[args.backend[0]]['median_ms']
    for backend in args.backend:
        s, (precision, detail) = stats[backend], rows[backend]
        print(f'{backend:<12} {precision:<5} {s["median_ms"]:>10.2f} '
              f'{s["p90_ms"]:>9.2f} {s["fps"]:>8.2f} '
              f'{base / s["median_ms"]:>8.2f}x  {detail}')
    return 0


def tensorrt_fn(args: argparse.Namespace, onnx_file: str, x):
    """The TensorRT row: mmdeploy's ``tensorrt`` backend wrapper (ours,
    registered by :mod:`rgpnet_mmseg.deploy`) on ``--engine`` or on an
    engine built from ``onnx_file`` (static shape)."""
    import tensorrt as trt
    from mmdeploy.backend.base import BACKEND_MANAGERS

    from rgpnet_mmseg.compat.tensorrt import build_engine
    precision = 'fp16' if args.fp16 else 'fp32'
    engine = args.engine or osp.join(
        args.work_dir, f'end2end_{x.shape[2]}x{x.shape[3]}_{precision}.engine')
    if args.engine is None:
        build_engine(onnx_file, engine, None, dict(fp16_mode=args.fp16),
                     args.device)
    wrapper = BACKEND_MANAGERS.find('tensorrt').build_wrapper(
        [engine], args.device)
    feed = {'input': x.to(args.device)}
    return (lambda: wrapper(feed)), (precision, f'{args.device}, TensorRT '
                                     f'{trt.__version__}')


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    import torch
    from rgpnet_mmseg.utils.timing import busy_note
    import rgpnet_mmseg  # noqa: F401  (registers RGPHead & co.)
    args.device = args.device or ('cuda'
                                  if torch.cuda.is_available() else 'cpu')
    note = busy_note(args.device)
    if note:
        print(note, file=sys.stderr)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    run = dict(zoo=benchmark_zoo.run, deploy=run_deploy,
               training=benchmark_training.run_training,
               loss=benchmark_training.run_loss)[args.mode]
    try:
        return run(args) or 0
    finally:  # in-process callers (tests) keep their thread count
        torch.set_num_threads(threads)


if __name__ == '__main__':
    sys.exit(main())
