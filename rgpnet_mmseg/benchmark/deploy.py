# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The ``deploy`` mode (a config's network on PyTorch and deployed backends,
docs/deployment.md) and how every mode deploys: ``run_deploy`` with a
config of configs/deploy/ at a static shape, run by mmdeploy's backend
model (:func:`rgpnet_mmseg.apis.build_segmenter`)."""
import os.path as osp
import statistics
import sys

import numpy as np
import torch
from mmengine.config import Config

from rgpnet_mmseg.utils.timing import environment, time_round_robin
from .report import fmt, table, write
from .training import REPO, forward

BACKENDS = {  # row: deploy config (512x1024, reshaped to --shape)
    'onnxruntime': 'segmentation_onnxruntime_static-512x1024.py',
    'onnxruntime-int8': 'segmentation_onnxruntime-int8_static-512x1024.py',
    'tensorrt': 'segmentation_tensorrt_static-512x1024.py',
    'tensorrt-fp16': 'segmentation_tensorrt-fp16_static-512x1024.py',
    'tensorrt-int8': 'segmentation_tensorrt-int8_static-512x1024.py',
    'openvino': 'segmentation_openvino_static-512x1024.py',
    'openvino-bf16': 'segmentation_openvino-bf16_static-512x1024.py',
    'openvino-int8': 'segmentation_openvino-int8_static-512x1024.py',
}
ON_DEVICE = ('tensorrt', )  # rows on --device; the others on the CPU


def add_arguments(parser) -> None:
    """The options of the ``deploy`` mode."""
    add = parser.add_argument
    add('config', help='model config')
    add('--checkpoint', help='checkpoint (default: random weights)')
    add('--shape', type=int, nargs=2, default=[512, 1024],
        metavar=('H', 'W'), help='input size (512 1024)')
    add('--backend', nargs='+', choices=['pytorch', *BACKENDS],
        default=['pytorch', 'onnxruntime'],
        help='rows; the first is the base of the speed-up')
    add('--fp16', action='store_true', help='tensorrt as tensorrt-fp16')
    add('--int8', nargs='+', default=['QOperator/Percentile'],
        metavar='FORMAT/METHOD[/NODES]', help='onnxruntime-int8 rows: '
        'quantization format, calibration method, nodes kept FP32 (comma-'
        'separated; e.g. Conv[0],Conv[-1],Resize)')
    add('--calib-images', type=int,
        help='INT8 calibration: the first N val images of the config')
    add('--onnx', help='the onnxruntime row: this file of a deployed dir')
    add('--engine', help='the tensorrt row: this file of a deployed dir')
    add('--work-dir', default='work_dirs/benchmark', help='for deployments')
    add('--exporter', choices=['auto', 'legacy', 'dynamo'])


def deploy_config(backend: str, shape, **options) -> Config:
    """The deploy config of ``backend`` (:data:`BACKENDS`) at the static
    ``shape`` (H, W), in ``onnx_config`` and every N x C x H x W of
    ``backend_config.model_inputs``; ``options`` into ``backend_config``."""
    (h, w), cfg = shape, Config.fromfile(
        osp.join(REPO, 'configs/deploy', BACKENDS[backend]))

    def reshaped(v):
        if isinstance(v, dict):
            return {k: reshaped(i) for k, i in v.items()}
        is_shape = len(v) == 4 and all(isinstance(i, int) for i in v)
        return [1, 3, h, w] if is_shape else [reshaped(i) for i in v]
    cfg.onnx_config.input_shape = [w, h]
    if 'model_inputs' in cfg.backend_config:
        cfg.backend_config.model_inputs = reshaped(
            cfg.backend_config.model_inputs)
    cfg.merge_from_dict(dict(backend_config=options))
    return cfg


def deploy(backend: str, model_cfg, checkpoint, shape, work_dir: str,
           device: str = 'cpu', threads=None, exporter=None, calib=None,
           **options):
    """``(segmenter, run_deploy's result)`` of a model (configs, checkpoint
    or None) deployed to ``backend`` at ``shape`` into ``work_dir``, no
    parity or mIoU; ``options``: :func:`deploy_config`'s."""
    from rgpnet_mmseg.apis import build_segmenter
    from rgpnet_mmseg.deploy.convert import run_deploy
    from rgpnet_mmseg.utils.checkpoint import check_checkpoint_fits
    if checkpoint is not None:  # one line for a misfit checkpoint
        check_checkpoint_fits(model_cfg, checkpoint)
    info = run_deploy(deploy_config(backend, shape, **options), model_cfg,
                      checkpoint, np.zeros((*shape, 3), np.uint8), work_dir,
                      device=device, exporter=exporter, parity=False,
                      miou=False, calib=calib)
    return build_segmenter(work_dir, device=device, num_threads=threads), info


def network(seg, x: torch.Tensor):
    """A deployed model's network alone on ``x`` (the backend wrapper)."""
    model, feed = seg.model, {seg.model.input_name: x}
    return lambda: model.wrapper(feed)[model.output_names[0]]


def backend_rows(args, name: str, x: torch.Tensor) -> dict:
    """``{row: (function, precision, details)}`` of one ``--backend``."""
    from rgpnet_mmseg.apis import build_segmenter
    from rgpnet_mmseg.deploy.quantize import read_calibration_data
    from rgpnet_mmseg.deploy.verify import compare_outputs, deploy_precision
    if name == 'pytorch':
        model, xd = build_segmenter(args.config, args.checkpoint, 'pytorch',
                                    args.device).model, x.to(args.device)
        return {name: (torch.inference_mode()(lambda: forward(model, xd)),
                       'fp32', f'{args.device}, eager')}
    name = 'tensorrt-fp16' if name == 'tensorrt' and args.fp16 else name
    device = args.device if name.startswith(ON_DEVICE) else 'cpu'
    given = args.onnx if name == 'onnxruntime' else (
        args.engine if name.startswith('tensorrt') else None)
    rows = {}
    for i, spec in enumerate(args.int8 if name == 'onnxruntime-int8' else
                             [None]):
        work_dir = osp.join(args.work_dir, name + f'_{i}' * bool(spec))
        q = (spec or '').split('/')  # FORMAT/METHOD[/NODES]
        if given:
            seg = build_segmenter(args.config, given, None, device,
                                  args.threads)
        else:
            seg, info = deploy(
                name, args.config, args.checkpoint, args.shape, work_dir,
                device, args.threads, args.exporter, args.calib_images and
                dict(num_images=args.calib_images), **(dict(quantization=dict(
                    quant_format=q[0], calibrate_method=q[1],
                    exclude_nodes=q[2].split(',') if q[2:] else []))
                    if spec else {}))
        details = f'{device}, {type(seg.model.wrapper).__name__}'
        if spec:  # labels of FP32 ORT (run_deploy keeps it beside INT8)
            ref = build_segmenter(work_dir, 'end2end-fp32.onnx', None, device,
                                  args.threads)
            inputs = list(read_calibration_data(info['calib_file']))
            same = np.mean([compare_outputs(*(network(
                s, torch.from_numpy(i))().numpy() for s in (ref, seg))
            )['pixel_agreement'] for i in inputs])
            details += (f'; labels {100 * same:.2f}% = FP32 ORT on '
                        f'{len(inputs)} val images')
        rows[f'{name} {spec}' if spec else name] = (network(
            seg, x.to(device)), deploy_precision(seg.task.deploy_cfg), details)
    return rows


def run(args) -> int:
    """The ``deploy`` mode: the network alone (image tensor to the logits
    at the input size: mmdeploy's graph) on each ``--backend``."""
    from rgpnet_mmseg.apis import InferenceError
    from rgpnet_mmseg.compat import CheckpointError
    from rgpnet_mmseg.deploy import DeployConfigError, ExporterError
    from rgpnet_mmseg.deploy.convert import DeployError
    h, w = args.shape
    x, rows = torch.randn(1, 3, h, w), {}
    try:
        for name in args.backend:
            rows.update(backend_rows(args, name, x))
    except CheckpointError as err:  # docs/inference.md: nothing was run
        print(f'error: {err}', file=sys.stderr)
        return 2
    except (DeployError, DeployConfigError, ExporterError, InferenceError,
            FileNotFoundError, ValueError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    times = time_round_robin({b: r[0] for b, r in rows.items()},
                             args.repeats, args.warmup, args.device)
    ms = {b: sorted(t * 1e3 for t in ts) for b, ts in times.items()}
    med = {b: statistics.median(t) for b, t in ms.items()}
    base = med[next(b for b in med if b.startswith(args.backend[0]))]
    write('\n'.join([
        f'\ninput 1x3x{h}x{w}, {args.warmup} warm-up + {args.repeats} timed '
        'runs, round-robin; the network alone (the logits at the input size)'
        f'; {environment(args.device, args.threads)["line"]}'] + table(
        'backend | precision | median ms | p90 ms | FPS | speed-up | details',
        [[b, rows[b][1], fmt(med[b]),
          fmt(t[min(len(t) - 1, int(0.9 * len(t)))]), fmt(1e3 / med[b]),
          f'{base / med[b]:.2f}x', rows[b][2]] for b, t in ms.items()])))
    return 0
