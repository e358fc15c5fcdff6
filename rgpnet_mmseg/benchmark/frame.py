# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The ``frame`` mode: a frame's labels at its own size through a segmenter
(``build_segmenter``: a deployed dir, or a config + checkpoint for PyTorch's
``inference_model``) against the network alone on the same preprocessed
input, and the labels against mmseg's ``inference_model`` (docs/
cpu_deploy.md)."""
import statistics

import numpy as np
import torch

from rgpnet_mmseg.utils.timing import environment, time_round_robin
from .report import fmt, table, write


def add_arguments(parser) -> None:
    """The options of the ``frame`` mode."""
    add = parser.add_argument
    add('model', help='a deployed dir, or a config (PyTorch)')
    add('--checkpoint', help='the PyTorch checkpoint (the labels reference '
        'of a deployed dir; the model of a config)')
    add('--config', help="the model config of --checkpoint (default: the "
        "dir's model_cfg.py)")
    add('--frame', type=int, nargs=2, default=[1080, 1920],
        metavar=('H', 'W'), help='frame size (1080 1920)')


def test_frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A BGR frame of smooth random structure (blurred noise, stretched)."""
    import cv2
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0),
                           max(h, w) / 80)
    img = (img - img.min()) / max(float(np.ptp(img)), 1e-6)
    return (img * 255).astype(np.uint8)


def run(args) -> int:
    """Time frame -> labels and the network alone, round-robin."""
    import os.path as osp

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
    ms = {k: statistics.median(t) * 1e3 for k, t in time_round_robin(
        rows, args.repeats, args.warmup).items()}
    agree = '-'
    if args.checkpoint and hasattr(seg, 'task'):
        ref = init_model(args.config or osp.join(args.model, 'model_cfg.py'),
                         args.checkpoint, device='cpu')
        ref = inference_model(ref, frame).pred_sem_seg.data[0].numpy()
        agree = f'{100 * float((seg(frame) == ref).mean()):.4f} %'
    net = ms['network alone']
    write('\n'.join([
        f'\nframe {args.frame[0]}x{args.frame[1]} -> network input '
        f'{"x".join(map(str, x.shape))}; {args.warmup} warm-up + '
        f'{args.repeats} timed, round-robin; {seg.backend}; '
        f'{environment("cpu", args.threads)["line"]}'] + table(
            'path | median ms | x network | labels = mmseg inference_model',
            [[k, fmt(v, 1), fmt(v / net), agree if k.startswith('frame')
              else '-'] for k, v in ms.items()])))
    return 0
