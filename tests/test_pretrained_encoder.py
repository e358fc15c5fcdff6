# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The configs' encoder takes torchvision's ImageNet ResNet files as they
are: every tensor of the file lands in the backbone, none is missing."""
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

from mmseg.registry import MODELS
from .conftest import CONFIG_DIR

BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var',
           'num_batches_tracked')


def _bn(prefix: str, channels: int) -> dict:
    return {
        f'{prefix}.{k}': (torch.tensor(7) if k == 'num_batches_tracked' else
                          torch.randn(channels))
        for k in BN_KEYS
    }


def torchvision_resnet18_state_dict() -> dict:
    """A state dict named and shaped as torchvision's ``resnet18`` (written
    out from torchvision's layout, not from the model under test), random
    values."""
    sd = {'conv1.weight': torch.randn(64, 3, 7, 7), **_bn('bn1', 64)}
    c_in = 64
    for layer, c in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            p = f'layer{layer}.{block}'
            first_in = c_in if block == 0 else c
            sd[f'{p}.conv1.weight'] = torch.randn(c, first_in, 3, 3)
            sd.update(_bn(f'{p}.bn1', c))
            sd[f'{p}.conv2.weight'] = torch.randn(c, c, 3, 3)
            sd.update(_bn(f'{p}.bn2', c))
            if block == 0 and layer > 1:
                sd[f'{p}.downsample.0.weight'] = torch.randn(c, c_in, 1, 1)
                sd.update(_bn(f'{p}.downsample.1', c))
        c_in = c
    sd['fc.weight'] = torch.randn(1000, 512)
    sd['fc.bias'] = torch.randn(1000)
    return sd


def test_torchvision_resnet18_file_loads_into_the_encoder(tmp_path):
    sd = torchvision_resnet18_state_dict()
    path = tmp_path / 'resnet18-f37072fd.pth'
    torch.save(sd, path)
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_cityscapes.py'))
    assert cfg.model.backbone.init_cfg.checkpoint.endswith(
        '/resnet18-f37072fd.pth')
    cfg.model.backbone.init_cfg.checkpoint = str(path)
    init_default_scope('mmseg')
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    loaded = model.backbone.state_dict()
    # every backbone tensor comes from the file, the classifier is unused
    assert set(loaded) == set(sd) - {'fc.weight', 'fc.bias'}
    for key, value in loaded.items():
        assert torch.equal(value, sd[key]), key
