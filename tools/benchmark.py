# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Latency and FPS of a segmentor on PyTorch, ONNX Runtime and TensorRT.

    python tools/benchmark.py CONFIG [--checkpoint CKPT] [--shape H W]
        [--backend pytorch onnxruntime tensorrt] [--fp16] [--device cpu|cuda]
        [--runs 50] [--warmup 10] [--threads N] [--ort-opt-level all]
        [--onnx FILE] [--engine FILE] [--work-dir DIR]
        [--exporter auto|legacy|dynamo]

Each backend runs the same computation as the deployed graph (image in,
label map out: backbone, RGP head, resize, argmax) on a batch of one
random image of the given shape. ``--warmup`` untimed runs come first,
then ``--runs`` timed ones, each synchronised with the device (a CUDA
synchronize for PyTorch on a GPU, the stream for TensorRT; ONNX Runtime's
``run`` returns when done); the table gives the median (and p90) latency,
FPS = 1000 / median, and the speed-up over the first backend. Without
``--onnx``/``--engine`` the ONNX file (and engine) are exported into
``--work-dir`` first, with BN folded as ``tools/deploy.py`` does.
Without ``--checkpoint`` the weights are random (same speed).
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import time

import torch

BACKENDS = ('pytorch', 'onnxruntime', 'tensorrt')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark a segmentor on several backends')
    parser.add_argument('config', help='model config')
    parser.add_argument('--checkpoint', help='checkpoint (default: random)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=[512, 1024],
        metavar=('H', 'W'),
        help='input height and width (default: 512 1024)')
    parser.add_argument(
        '--backend',
        nargs='+',
        choices=BACKENDS,
        default=['pytorch', 'onnxruntime'],
        help='backends to time, in this order (default: pytorch '
        'onnxruntime)')
    parser.add_argument(
        '--fp16', action='store_true', help='TensorRT in FP16')
    parser.add_argument(
        '--device',
        default=None,
        help='device of PyTorch/TensorRT (default: cuda if available, '
        'else cpu)')
    parser.add_argument(
        '--runs', type=int, default=50, help='timed runs (default: 50)')
    parser.add_argument(
        '--warmup', type=int, default=10, help='untimed runs (default: 10)')
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='CPU threads for PyTorch and ONNX Runtime (default: their own '
        'choice)')
    parser.add_argument(
        '--ort-opt-level',
        default='all',
        choices=['disable', 'basic', 'extended', 'all'],
        help='ONNX Runtime graph optimisation level (default: all)')
    parser.add_argument('--onnx', help='time this ONNX file')
    parser.add_argument('--engine', help='time this TensorRT engine')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/benchmark',
        help='where exported files go')
    parser.add_argument(
        '--exporter',
        choices=['auto', 'legacy', 'dynamo'],
        default=None,
        help='ONNX exporter (default: $RGPNET_ONNX_EXPORTER or auto)')
    return parser.parse_args(argv)


def build_model(config: str, checkpoint):
    """The segmentor of ``config`` (SyncBN as BN), in eval mode, on CPU."""
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import load_checkpoint

    from mmseg.registry import MODELS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = cfg.model
    model_cfg.pop('pretrained', None)
    model = MODELS.build(model_cfg)  # no init_weights: nothing downloaded
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return revert_sync_batchnorm(model).eval()


def time_fn(fn, runs: int, warmup: int) -> dict:
    """Call ``fn`` (which returns once its work is done) ``warmup`` times,
    then time ``runs`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    median = statistics.median(times)
    return dict(
        median_ms=median,
        mean_ms=statistics.fmean(times),
        p90_ms=times[min(len(times) - 1, int(0.9 * len(times)))],
        min_ms=times[0],
        fps=1000.0 / median)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        print('error: --runs must be >= 1 and --warmup >= 0', file=sys.stderr)
        return 1
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    h, w = args.shape
    if args.threads:
        torch.set_num_threads(args.threads)

    import rgpnet_mmseg  # noqa: F401
    from rgpnet_mmseg.deploy import DeployConfigError, ExporterError
    from rgpnet_mmseg.deploy.exporter import export_segmentor
    from rgpnet_mmseg.deploy.runners import (ORTRunner, TensorRTRunner,
                                             TorchRunner)

    if 'tensorrt' in args.backend:
        from rgpnet_mmseg.deploy.tensorrt import tensorrt_unavailable_reason
        reason = tensorrt_unavailable_reason()
        if reason:
            print(f'error: --backend tensorrt: {reason}', file=sys.stderr)
            return 1
    model = build_model(args.config, args.checkpoint)
    os.makedirs(args.work_dir, exist_ok=True)
    onnx_file = args.onnx
    try:
        if onnx_file is None and (
                'onnxruntime' in args.backend or
            ('tensorrt' in args.backend and args.engine is None)):
            onnx_file = osp.join(args.work_dir, f'end2end_{h}x{w}.onnx')
            info = export_segmentor(
                model, onnx_file, (h, w), exporter=args.exporter)
            print(f'exported {onnx_file} ({info["exporter"]} exporter, '
                  f'opset {info["opset"]}, {info["folded_bn"]} BN folded)')
    except (DeployConfigError, ExporterError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1

    x = torch.randn(1, 3, h, w)
    rows = []
    for backend in args.backend:
        if backend == 'pytorch':
            runner = TorchRunner(model, device)
            xd = x.to(device)
            stats = time_fn(lambda: runner.run_tensor(xd), args.runs,
                            args.warmup)
            detail = (f'{device}, eager, {torch.get_num_threads()} threads'
                      if device == 'cpu' else f'{device}, eager')
            precision = 'fp32'
        elif backend == 'onnxruntime':
            runner = ORTRunner(
                onnx_file, threads=args.threads, opt_level=args.ort_opt_level)
            xn = x.numpy()
            stats = time_fn(lambda: runner.run_numpy(xn), args.runs,
                            args.warmup)
            threads = args.threads or 'default'
            detail = (f'CPU EP, opt {args.ort_opt_level}, {threads} '
                      'intra-op threads')
            precision = 'fp32'
        else:
            engine = args.engine
            if engine is None:
                from rgpnet_mmseg.deploy.tensorrt import build_engine
                precision = 'fp16' if args.fp16 else 'fp32'
                engine = osp.join(args.work_dir,
                                  f'end2end_{h}x{w}_{precision}.engine')
                build_engine(
                    onnx_file, engine, fp16=args.fp16, device=device)
            precision = 'fp16' if args.fp16 else 'fp32'
            runner = TensorRTRunner(engine, device)
            xd = x.to(runner.device)
            stats = time_fn(lambda: runner.run_tensor(xd), args.runs,
                            args.warmup)
            import tensorrt as trt
            detail = f'{device}, TensorRT {trt.__version__}'
        rows.append((backend, precision, detail, stats))

    base = rows[0][3]['median_ms']
    load = ', load average {:.1f}'.format(os.getloadavg()[0]) if hasattr(
        os, 'getloadavg') else ''
    print(f'\ninput 1x3x{h}x{w}, {args.warmup} warm-up + {args.runs} timed '
          f'runs, torch {torch.__version__}, {os.cpu_count()} CPUs{load}')
    if hasattr(os, 'getloadavg') and os.getloadavg()[0] > os.cpu_count() \
            and device == 'cpu' and not args.threads:
        print('note: the CPUs are busy; multi-threaded timings (OpenMP in '
              'PyTorch above all) suffer most, try --threads 1')
    header = (f'{"backend":<12} {"prec":<5} {"median ms":>10} {"p90 ms":>9} '
              f'{"FPS":>8} {"speed-up":>9}  details')
    print(header)
    print('-' * len(header))
    for backend, precision, detail, s in rows:
        print(f'{backend:<12} {precision:<5} {s["median_ms"]:>10.2f} '
              f'{s["p90_ms"]:>9.2f} {s["fps"]:>8.2f} '
              f'{base / s["median_ms"]:>8.2f}x  {detail}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
