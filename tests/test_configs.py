# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Every config under configs/ loads, builds and runs a forward pass."""
import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope

from mmseg.registry import MODELS
from rgpnet_mmseg.utils.cpu_config import without_syncbn_and_pretrained
from .conftest import CONFIG_DIR

# model configs; configs/deploy/ holds mmdeploy deploy configs;
# configs/heads/: tests/test_heads_configs.py (output stride per head)
CONFIGS = sorted(p for p in CONFIG_DIR.rglob('*.py')
                 if not {'_base_', 'deploy', 'heads'} & set(p.parts))
# output stride of the decode head; RGPHead predicts at 1/4
OUTPUT_STRIDE = {'mixing/bisenetv1_r18-d32_lr-pr_demo.py': 8,
                 'mixing/bisenetv2_fcn_demo.py': 8,
                 'mixing/bisenetv2_fcn_lr-pr_demo.py': 8}


def test_configs_are_found():
    names = {p.name for p in CONFIGS}
    assert 'rgpnet_r18_cityscapes.py' in names
    assert 'rgpnet_r18_demo.py' in names


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[str(p.relative_to(CONFIG_DIR)) for p in CONFIGS])
def test_config_builds_and_runs(path):
    cfg = Config.fromfile(str(path))
    assert cfg.custom_imports == ConfigDict(
        imports=['rgpnet_mmseg'], allow_failed_imports=False)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'train_cfg', 'optim_wrapper', 'val_evaluator'):
        assert key in cfg, f'{path.name} has no {key}'
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(without_syncbn_and_pretrained(cfg.model)).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 64, 128), mode='tensor')
    stride = OUTPUT_STRIDE.get(path.relative_to(CONFIG_DIR).as_posix(), 4)
    assert out.shape == (1, cfg.model.decode_head.num_classes, 64 // stride,
                         128 // stride)
    assert torch.isfinite(out).all()
