# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The up-front checks for data sets and pretrained files."""
import importlib.util

import pytest
import torch
from mmengine.config import Config

from rgpnet_mmseg.utils import (PreflightError, check_data, check_pretrained,
                                preflight)
from rgpnet_mmseg.utils.preflight import resolve_checkpoint
from .conftest import CONFIG_DIR


@pytest.fixture
def torch_hub(tmp_path, monkeypatch):
    """A private torch hub dir, so the user's cache does not matter."""
    hub = tmp_path / 'hub'
    monkeypatch.setattr(torch.hub, '_hub_dir', str(hub))
    return hub


def test_open_mmlab_name_resolves_to_the_mmengine_cache(torch_hub):
    source, local = resolve_checkpoint('open-mmlab://resnet18_v1c')
    assert source.startswith('https://')
    assert source.endswith('/resnet18_v1c-b5776b93.pth')
    assert local == str(torch_hub / 'checkpoints' /
                        'resnet18_v1c-b5776b93.pth')


def test_torchvision_name_resolves_without_torchvision(torch_hub):
    source, local = resolve_checkpoint('torchvision://resnet18')
    assert source == ('https://download.pytorch.org/models/'
                      'resnet18-f37072fd.pth')
    assert local == str(torch_hub / 'checkpoints' / 'resnet18-f37072fd.pth')


@pytest.mark.skipif(
    importlib.util.find_spec('torchvision') is not None,
    reason='torchvision is installed: mmengine can load torchvision:// names')
def test_torchvision_name_without_torchvision_names_the_url():
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_cityscapes.py'))
    cfg.model.backbone.init_cfg.checkpoint = 'torchvision://resnet18'
    with pytest.raises(PreflightError, match='resnet18-f37072fd.pth'):
        check_pretrained(cfg)


def test_cached_pretrained_file_passes(torch_hub, capsys):
    """A pretrained file in the cache is found there: not downloaded again,
    not loaded (the empty placeholder would not load), nothing printed."""
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_cityscapes.py'))
    # the configs start from torchvision's ImageNet ResNet-18
    assert cfg.model.backbone.init_cfg.checkpoint == (
        'https://download.pytorch.org/models/resnet18-f37072fd.pth')
    cached = torch_hub / 'checkpoints' / 'resnet18-f37072fd.pth'
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b'')  # only its presence is checked
    assert check_pretrained(cfg) is None
    assert cached.read_bytes() == b''
    assert [p.name for p in torch_hub.rglob('*')] == [
        'checkpoints', 'resnet18-f37072fd.pth'
    ]
    assert capsys.readouterr() == ('', '')


def test_local_pretrained_file_missing(tmp_path):
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_cityscapes.py'))
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'r18.pth')
    with pytest.raises(PreflightError,
                       match='model.backbone.init_cfg.checkpoint'):
        check_pretrained(cfg)


def test_demo_config_needs_no_pretrained_file(torch_hub, tmp_path):
    """The demo trains from scratch: nothing to check, nothing fetched; the
    same model with a pretrained head file is checked, by its key."""
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_demo.py'))
    assert cfg.model.backbone.init_cfg is None
    assert check_pretrained(cfg) is None
    assert not torch_hub.exists()
    cfg.model.decode_head.init_cfg = dict(
        type='Pretrained', checkpoint=str(tmp_path / 'head.pth'))
    with pytest.raises(PreflightError) as err:
        check_pretrained(cfg)
    assert str(err.value).startswith(
        'Pretrained file for model.decode_head.init_cfg.checkpoint not '
        f'found: {tmp_path / "head.pth"} ')


def test_preflight_runs_both_checks_unless_skipped(tmp_path, monkeypatch,
                                                   demo_data_root):
    """``preflight`` (tools/train.py, tools/test.py): the data check, then
    the pretrained files unless ``pretrained=False``; nothing with
    ``RGPNET_SKIP_PREFLIGHT=1``."""
    monkeypatch.delenv('RGPNET_SKIP_PREFLIGHT', raising=False)
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_demo.py'))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'none')
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(tmp_path / 'r18.pth'))
    splits = ('train_dataloader', )
    with pytest.raises(PreflightError, match='train_dataloader'):
        preflight(cfg, splits)
    cfg.train_dataloader.dataset.data_root = str(demo_data_root)
    with pytest.raises(PreflightError, match='model.backbone.init_cfg'):
        preflight(cfg, splits)
    assert preflight(cfg, splits, pretrained=False) is None
    monkeypatch.setenv('RGPNET_SKIP_PREFLIGHT', '1')
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'none')
    assert preflight(cfg, splits) is None


def test_data_check_names_split_and_folder(tmp_path, demo_data_root):
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_demo.py'))
    cfg.train_dataloader.dataset.data_root = str(demo_data_root)
    cfg.val_dataloader.dataset.data_root = str(tmp_path)
    check_data(cfg, ('train_dataloader', ))
    with pytest.raises(PreflightError) as err:
        check_data(cfg, ('train_dataloader', 'val_dataloader'))
    assert 'val_dataloader' in str(err.value)
    assert str(tmp_path / 'leftImg8bit' / 'val') in str(err.value)


def test_data_check_looks_inside_dataset_wrappers(tmp_path):
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_demo.py'))
    inner = cfg.train_dataloader.dataset
    inner.data_root = str(tmp_path / 'missing')
    cfg.train_dataloader.dataset = dict(
        type='RepeatDataset', times=2, dataset=inner)
    with pytest.raises(PreflightError, match='missing'):
        check_data(cfg, ('train_dataloader', ))
