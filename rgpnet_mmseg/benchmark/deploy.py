# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The ``deploy`` and ``frame`` modes (docs/deployment.md, cpu_deploy.md),
and how every mode deploys (a config of configs/deploy/, static shape)."""
import os.path as osp
import statistics
import sys

import numpy as np
import torch
from mmengine.config import Config

from rgpnet_mmseg.utils.timing import environment, time_round_robin
from .report import fmt, table, write
from .training import REPO, forward

BACKENDS = {b: f'segmentation_{b}_static-512x1024.py' for b in (
    'onnxruntime', 'onnxruntime-int8', 'tensorrt', 'tensorrt-fp16',
    'tensorrt-int8', 'openvino', 'openvino-bf16', 'openvino-int8')}
ON_DEVICE = ('tensorrt', )  # rows on --device; the others on the CPU


def add_arguments(add) -> None:
    """The options of the ``deploy`` mode, to ``add`` (``add_argument``)."""
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


def add_frame_arguments(add) -> None:
    """The options of the ``frame`` mode, to ``add`` (``add_argument``)."""
    add('model', help='a deployed dir, or a config (PyTorch)')
    add('--checkpoint', help='the PyTorch checkpoint (the labels reference '
        'of a deployed dir; the model of a config)')
    add('--config', help="the model config of --checkpoint (default: the "
        "dir's model_cfg.py)")
    add('--frame', type=int, nargs=2, default=[1080, 1920],
        metavar=('H', 'W'), help='frame size (1080 1920)')


def deploy_config(backend: str, shape, **options) -> Config:
    """The deploy config of ``backend`` at the static ``shape`` (H, W), in
    ``onnx_config`` and every N x C x H x W of
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


def test_frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A BGR frame of smooth random structure (blurred noise, stretched)."""
    import cv2
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0),
                           max(h, w) / 80)
    img = (img - img.min()) / max(float(np.ptp(img)), 1e-6)
    return (img * 255).astype(np.uint8)


def run_frame(args) -> int:
    """The ``frame`` mode: frame -> labels (a deployed dir, or a config +
    checkpoint) and the network alone on the same preprocessed input, and
    the labels against mmseg's ``inference_model``."""
    from mmseg.apis import inference_model, init_model

    from rgpnet_mmseg.apis import build_segmenter
    seg = build_segmenter(args.model, None if osp.isdir(args.model) else
                          args.checkpoint, num_threads=args.threads)
    frame = test_frame(*args.frame, args.seed)
    rows = {'frame -> labels': lambda: seg(frame)}
    if hasattr(seg, 'task'):  # deployed: the network on the same input
        data, _ = seg.task.create_input([frame], seg.input_shape)
        x = seg.model.data_preprocessor(data, False)['inputs']
        feed = {seg.model.input_name: x}
        rows['network alone'] = lambda: seg.model.wrapper(feed)
    else:
        from mmseg.apis.utils import _preprare_data  # mmseg's pipeline
        x = seg.model.data_preprocessor(_preprare_data(
            frame, seg.model)[0], False)['inputs']
        rows['network alone'] = torch.no_grad()(
            lambda: seg.model(x, mode='tensor'))
    ms = {k: statistics.median(t) for k, t in time_round_robin(
        rows, args.repeats, args.warmup).items()}
    agree = '-'
    if args.checkpoint and hasattr(seg, 'task'):
        ref = init_model(args.config or osp.join(args.model, 'model_cfg.py'),
                         args.checkpoint, device='cpu')
        ref = inference_model(ref, frame).pred_sem_seg.data[0].numpy()
        agree = f'{100 * float((seg(frame) == ref).mean()):.4f} %'
    write('\n'.join([
        f'\nframe {args.frame[0]}x{args.frame[1]} -> network input '
        f'{"x".join(map(str, x.shape))}; {args.warmup} warm-up + '
        f'{args.repeats} timed, round-robin; {seg.backend}; '
        f'{environment("cpu", args.threads)["line"]}'] + table(
            'path | median ms | x network | labels = mmseg inference_model',
            [[k, fmt(v * 1e3, 1), fmt(v / ms['network alone']),
              agree if k.startswith('frame') else '-']
             for k, v in ms.items()])))
    return 0
