# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Shared by the deploy tests: an export through the one export path
(``run_deploy``: mmdeploy's ``torch2onnx`` with our rewriter), the logits a
segmentor's graph should give (computed here, independently of the
exporter), and a plain ONNX Runtime session on a file."""
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .conftest import CONFIG_DIR

DEPLOY_DIR = CONFIG_DIR / 'deploy'


def deploy_cfg(base: str = 'segmentation_onnxruntime_dynamic.py',
               shape: Optional[Sequence[int]] = None, **overrides):
    """An mmengine Config of ``configs/deploy/<base>``; ``shape`` (H, W):
    a static ``onnx_config.input_shape`` (dynamic axes dropped);
    ``overrides``: top-level keys merged in."""
    from mmengine.config import Config
    cfg = Config.fromfile(str(DEPLOY_DIR / base))
    if shape is not None:
        cfg.onnx_config.update(input_shape=[shape[1], shape[0]],
                               dynamic_axes=None)
    cfg.merge_from_dict(overrides)
    return cfg


def export(work_dir: Path, model_cfg, checkpoint: Optional[str], img: str,
           cfg=None, **kwargs) -> dict:
    """``run_deploy`` without its checks: ``end2end.onnx`` in ``work_dir``;
    returns run_deploy's dict."""
    from rgpnet_mmseg.deploy.convert import run_deploy
    kwargs.setdefault('parity', False)
    kwargs.setdefault('miou', False)
    return run_deploy(cfg if cfg is not None else deploy_cfg(), model_cfg,
                      checkpoint, img, str(work_dir), dump_info=False,
                      **kwargs)


def graph_logits(segmentor, x: torch.Tensor) -> np.ndarray:
    """What the exported graph computes: the decode head's logits of the
    normalised input ``x`` resized bilinearly to its size (eval mode)."""
    head = segmentor.decode_head
    with torch.no_grad():
        logits = head(segmentor.extract_feat(x))
        return F.interpolate(logits, x.shape[2:], mode='bilinear',
                             align_corners=head.align_corners).numpy()


def ort_run(onnx_file: str, x: torch.Tensor) -> np.ndarray:
    """``onnxruntime.InferenceSession`` opened directly on the file."""
    import onnxruntime as ort
    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    return session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]


def demo_checkpoint(path: Path, varied: bool = True) -> str:
    """The demo model with random weights (seed 0) saved as mmengine saves
    checkpoints at ``path``; ``varied``: BN statistics away from 0/1 and a
    classifier that gives several classes with boundaries (not one)."""
    import rgpnet_mmseg  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from .conftest import randomize_bn
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(CONFIG_DIR /
                                             'rgpnet_r18_demo.py')).model)
    if varied:
        randomize_bn(model)
        torch.nn.init.normal_(model.decode_head.conv_seg.weight, std=1.0)
        torch.nn.init.zeros_(model.decode_head.conv_seg.bias)
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return str(path)
