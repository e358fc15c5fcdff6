# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The mixing configs (configs/mixing/) train for a few iterations on the
demo data in a real mmengine Runner:

* mmseg's BiSeNetV1-R18 (from mmseg's own config, `mmseg::` base) with our
  LabelRelaxationLoss and progressive resizing;
* our RGPHead on mmseg's MobileNetV2 backbone.
"""
import itertools
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmseg.registry import MODELS
from .conftest import CONFIG_DIR
from .run_helpers import shrink_for_quick_run

MIXING_DIR = CONFIG_DIR / 'mixing'
BISENET_CFG = MIXING_DIR / 'bisenetv1_r18-d32_lr-pr_demo.py'
MOBILENET_CFG = MIXING_DIR / 'rgpnet_mobilenetv2_demo.py'
CROP = (64, 128)  # (h, w): 1/2 of the demo images
ITERS = 3
STAGES = [(0, 0.5), (1, 0.75), (2, 1.0)]  # every stage once in 3 iterations

_names = itertools.count()


def small_cfg(path, root, work_dir, *, progressive: bool):
    """``path`` shrunk to ``ITERS`` iterations of batch 2 on 64x128 crops,
    no workers, one validation image at the end."""
    cfg = shrink_for_quick_run(
        Config.fromfile(str(path)), root, work_dir, crop=CROP,
        max_iters=ITERS, name=f'test_mixing_{next(_names)}_{work_dir.name}')
    cfg.train_cfg.val_interval = ITERS
    cfg.param_scheduler = [
        dict(type='PolyLR', power=0.9, begin=0, end=ITERS, by_epoch=False)
    ]
    cfg.default_hooks.checkpoint = None
    if progressive:
        hooks = [h for h in cfg.custom_hooks
                 if h.type == 'ProgressiveResizeHook']
        assert len(hooks) == 1, 'the config lost its ProgressiveResizeHook'
        hooks[0].stages = STAGES
    return cfg


class _KeepMetrics(Hook):

    def after_val_epoch(self, runner, metrics=None):
        runner.val_metrics = dict(metrics or {})


def run(cfg):
    runner = Runner.from_cfg(cfg)
    runner.register_hook(_KeepMetrics(), priority='LOWEST')
    sizes = []
    runner.model.backbone.register_forward_pre_hook(
        lambda m, args: sizes.append((m.training, tuple(args[0].shape[-2:]))))
    runner.train()
    return runner, sizes


def last_losses(runner):
    return {
        k: v.current()
        for k, v in runner.message_hub.log_scalars.items()
        if k.startswith('train/') and 'loss' in k
    }


def test_bisenetv1_from_mmseg_with_label_relaxation_and_resizing(
        demo_data_root, tmp_path):
    cfg = small_cfg(BISENET_CFG, demo_data_root, tmp_path, progressive=True)
    # the model really is mmseg's, inherited across packages
    assert cfg.model.backbone.type == 'BiSeNetV1'
    assert cfg.model.decode_head.type == 'FCNHead'
    runner, sizes = run(cfg)
    assert runner.iter == ITERS
    model = runner.model
    assert type(model.data_preprocessor).__name__ == \
        'ProgressiveResizeDataPreProcessor'
    heads = [model.decode_head] + list(model.auxiliary_head)
    assert [type(h.loss_decode).__name__ for h in heads] == \
        ['LabelRelaxationLoss'] * 3
    assert not any(isinstance(m, torch.nn.SyncBatchNorm)
                   for m in model.modules())
    losses = last_losses(runner)
    for key in ('train/decode.loss_lr', 'train/aux_0.loss_lr',
                'train/aux_1.loss_lr', 'train/loss'):
        assert key in losses, sorted(losses)
        assert math.isfinite(losses[key])
    # progressive resizing: 1/2, 3/4, then full size; validation at full
    h, w = CROP
    train = [s for training, s in sizes if training]
    assert train == [(h // 2, w // 2), (round(h * 0.75), round(w * 0.75)),
                     (h, w)]
    assert [s for training, s in sizes if not training] == [CROP]
    scales = runner.message_hub.get_scalar('train/scale').data[0].tolist()
    assert scales == [0.5, 0.75, 1.0]
    assert math.isfinite(runner.val_metrics['mIoU'])


def test_rgphead_on_mmseg_mobilenetv2(demo_data_root, tmp_path):
    cfg = small_cfg(MOBILENET_CFG, demo_data_root, tmp_path,
                    progressive=False)
    assert cfg.model.backbone.type == 'MobileNetV2'
    assert cfg.model.decode_head.type == 'RGPHead'
    runner, sizes = run(cfg)
    assert runner.iter == ITERS
    losses = last_losses(runner)
    assert math.isfinite(losses['train/decode.loss_ce'])
    assert math.isfinite(runner.val_metrics['mIoU'])
    # the four MobileNetV2 levels fit the head's in_channels at 1/4 .. 1/32
    model = runner.model.eval()
    x = torch.randn(1, 3, *CROP)
    with torch.no_grad():
        feats = model.extract_feat(x)
        out = model(x, mode='tensor')
    assert [f.shape[1] for f in feats] == list(model.decode_head.in_channels)
    assert [f.shape[-2] for f in feats] == [CROP[0] // s
                                            for s in (4, 8, 16, 32)]
    assert out.shape == (1, 19, CROP[0] // 4, CROP[1] // 4)


@pytest.mark.parametrize('path,stride', [(BISENET_CFG, 8),
                                         (MOBILENET_CFG, 4)],
                         ids=['bisenetv1', 'mobilenetv2'])
def test_mixing_configs_build_as_test_configs_does(path, stride):
    """What tests/test_configs.py checks, with each head's output stride
    (BiSeNetV1's FCN head predicts at 1/8, RGPHead at 1/4)."""
    cfg = Config.fromfile(str(path))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 128), mode='tensor')
    assert out.shape == (1, cfg.model.decode_head.num_classes, 64 // stride,
                         128 // stride)
    assert torch.isfinite(out).all()
