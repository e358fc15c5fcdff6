# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Benchmark RGPNet; rows are timed round-robin by one loop
(rgpnet_mmseg.utils.timing). Every mode takes [--repeats N] [--warmup N]
[--threads N] [--device cpu|cuda] [--seed N].

  zoo       RGPNet beside mmseg's real-time models, fast paths, GEMM
            ceiling, --train, --profile (docs/benchmark_zoo.md)
  deploy    a config on PyTorch, ONNX Runtime, TensorRT (docs/deployment.md)
  training  progressive resizing x CE/label relaxation, schedule ratio
  loss      the two losses alone (both: docs/training_benchmark.md)
  heads     RGPHead beside mmseg's heads on one encoder (configs/heads/,
            docs/heads_benchmark.md)
"""
import argparse
import os
import os.path as osp
import statistics
import sys
from typing import Optional, Sequence

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import benchmark_heads  # noqa: E402
import benchmark_training  # noqa: E402
import benchmark_zoo  # noqa: E402

BACKENDS = ('pytorch', 'onnxruntime', 'onnxruntime-int8', 'tensorrt')
INT8_CFG = osp.join(osp.dirname(__file__), '..', 'configs', 'deploy',
                    'segmentation_onnxruntime-int8_static-512x1024.py')


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
    add('--int8', nargs='+', default=['QOperator/Percentile'],
        metavar='FORMAT/METHOD[/NODES]', help='onnxruntime-int8 rows: '
        'quantization format, calibration method, nodes kept FP32 (comma-'
        'separated; e.g. Conv[0],Conv[-1],Resize)')
    add('--calib-images', type=int,
        help='INT8 calibration: the first N val images of the config')
    add('--onnx', help='time this ONNX file (default: export one)')
    add('--engine', help='time this TensorRT engine (default: build one)')
    add('--work-dir', default='work_dirs/benchmark', help='for exports')
    add('--exporter', choices=['auto', 'legacy', 'dynamo'])


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    modes = parser.add_subparsers(dest='mode', required=True)
    for mode, (add_arguments, _, repeats, warmup) in MODES.items():
        add = modes.add_parser(mode).add_argument
        add('--repeats', type=int, default=repeats,
            help=f'timed rounds, median reported ({repeats})')
        add('--warmup', type=int, default=warmup,
            help=f'untimed rounds first ({warmup})')
        add('--threads', type=int, help='torch and ONNX Runtime threads')
        add('--device', help='cpu or cuda (cuda if available)')
        add('--seed', type=int, default=0, help='random seed')
        add_arguments(modes.choices[mode])
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
    x, rows = torch.randn(1, 3, h, w), {}  # backend: (fn, precision, details)
    model = revert_sync_batchnorm(
        init_model(args.config, args.checkpoint, device='cpu'))
    os.makedirs(args.work_dir, exist_ok=True)
    onnx_file = args.onnx or osp.join(args.work_dir, f'end2end_{h}x{w}.onnx')
    int8 = 'onnxruntime-int8' in args.backend
    if args.onnx is None and (int8 or 'onnxruntime' in args.backend or (
            'tensorrt' in args.backend and not args.engine)):
        try:  # opset 17 with INT8 (per-channel quantization: >= 13)
            info = export_segmentor(model, onnx_file, (h, w),
                                    exporter=args.exporter,
                                    opset_version=17 if int8 else 11)
        except (DeployConfigError, ExporterError) as err:
            print(f'error: {err}', file=sys.stderr)
            return 1
        print(f'exported {onnx_file} ({info["exporter"]} exporter, opset '
              f'{info["opset"]})')
    ort = f'CPU EP, {args.threads or "default"} intra-op threads'
    if 'pytorch' in args.backend:
        net, xd = SegmentorForExport(model.to(args.device)), x.to(args.device)
        rows['pytorch'] = (torch.inference_mode()(lambda: net(xd)), 'fp32',
                           f'{args.device}, eager')
    if 'onnxruntime' in args.backend:
        session = onnxruntime_session(onnx_file, num_threads=args.threads)
        feed = {session.get_inputs()[0].name: x.numpy()}
        rows['onnxruntime'] = (lambda: session.run(None, feed), 'fp32', ort)
    if int8:
        rows.update(int8_rows(args, onnx_file, x, ort))
    if 'tensorrt' in args.backend:
        rows['tensorrt'] = tensorrt_row(args, onnx_file, x)
    times = time_round_robin({b: r[0] for b, r in rows.items()},
                             args.repeats, args.warmup, args.device)
    ms = {b: sorted(t * 1e3 for t in ts) for b, ts in times.items()}
    med = {b: statistics.median(t) for b, t in ms.items()}
    base = next(b for b in med if b.startswith(args.backend[0]))
    print(f'\ninput 1x3x{h}x{w}, {args.warmup} warm-up + {args.repeats} '
          f'timed runs, round-robin; {environment(args.device)["line"]}')
    print('\n'.join(table(
        'backend | precision | median ms | p90 ms | FPS | speed-up | details',
        [[b, rows[b][1], fmt(med[b]),
          fmt(t[min(len(t) - 1, int(0.9 * len(t)))]), fmt(1e3 / med[b]),
          f'{med[base] / med[b]:.2f}x', rows[b][2]]
         for b, t in ms.items()])))
    return 0


def int8_rows(args: argparse.Namespace, onnx_file: str, x, details: str):
    """``{name: (function, 'int8', details)}``: ``onnx_file`` quantized
    per ``--int8`` variant, calibrated on the config's val images (else on
    ``x``), with the labels' agreement with FP32 ONNX Runtime there."""
    import numpy as np
    from mmengine.config import Config

    from rgpnet_mmseg.deploy import onnxruntime_session
    from rgpnet_mmseg.deploy.quantize import (quantize_onnx,
                                              read_calibration_data,
                                              write_calibration_data)
    (h, w), feed = x.shape[2:], {'input': x.numpy()}
    deploy_cfg = Config.fromfile(INT8_CFG)
    deploy_cfg.onnx_config.input_shape = [w, h]
    calib = osp.join(args.work_dir, f'calib_{h}x{w}.h5')
    try:
        inputs = list(read_calibration_data(write_calibration_data(
            calib, deploy_cfg, args.config, args.checkpoint,
            num_images=args.calib_images)))
        source = f'{len(inputs)} val images'
    except (OSError, ValueError) as err:  # no data set
        print(f'calibration on the input ({err})', file=sys.stderr)
        inputs, source = [feed['input']], 'the input'
    fp32 = onnxruntime_session(onnx_file, num_threads=args.threads)
    refs = [fp32.run(None, {'input': i})[0] for i in inputs]
    rows = {}
    for spec in args.int8:
        fmt, method, *nodes = spec.split('/')
        path = osp.join(args.work_dir, f'int8_{h}x{w}_{len(rows)}.onnx')
        quantize_onnx(onnx_file, path, inputs, quant_format=fmt,
                      calibrate_method=method,
                      exclude_nodes=nodes[0].split(',') if nodes else ())
        sess = onnxruntime_session(path, num_threads=args.threads)
        same = np.mean([(sess.run(None, {'input': i})[0] == r).mean()
                        for i, r in zip(inputs, refs)])
        rows[f'onnxruntime-int8 {spec}'] = (
            lambda s=sess: s.run(None, feed), 'int8', f'{details}; labels '
            f'{100 * same:.2f}% = FP32 ORT on {source}')
    return rows


def tensorrt_row(args: argparse.Namespace, onnx_file: str, x):
    """(function, precision, details) of mmdeploy's ``tensorrt`` wrapper
    (ours) on ``--engine`` or on an engine built from ``onnx_file``."""
    import tensorrt
    from mmdeploy.backend.base import BACKEND_MANAGERS

    from rgpnet_mmseg.compat.tensorrt import build_engine, precision_mode
    precision = 'fp16' if args.fp16 else 'fp32'
    deploy_cfg = args.engine and osp.join(osp.dirname(args.engine),
                                          'deploy_cfg.py')
    if deploy_cfg and osp.isfile(deploy_cfg):  # tools/deploy.py's work dir
        from mmengine.config import Config
        precision = precision_mode(Config.fromfile(deploy_cfg).get(
            'backend_config', {}).get('common_config', {}))
    engine = args.engine or osp.join(
        args.work_dir, f'end2end_{x.shape[2]}x{x.shape[3]}_{precision}.engine')
    if args.engine is None:
        build_engine(onnx_file, engine, None, dict(fp16_mode=args.fp16),
                     args.device)
    wrapper = BACKEND_MANAGERS.find('tensorrt').build_wrapper([engine],
                                                              args.device)
    feed = {'input': x.to(args.device)}
    return (lambda: wrapper(feed), precision,
            f'{args.device}, TensorRT {tensorrt.__version__}')


MODES = {  # mode: (its options, its run, --repeats and --warmup defaults)
    'zoo': (benchmark_zoo.add_arguments, benchmark_zoo.run, 5, 1),
    'deploy': (deploy_arguments, run_deploy, 50, 10),
    'training': (benchmark_training.training_arguments,
                 benchmark_training.run_training, 5, 1),
    'loss': (lambda parser: None, benchmark_training.run_loss, 7, 1),
    'heads': (benchmark_heads.add_arguments, benchmark_heads.run, 20, 5),
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
