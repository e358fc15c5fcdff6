# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The paper's "PM" initialisation: a checkpoint that our Runner saved after
training the 65-class Mapillary config (on a few generated files in the
Mapillary layout) is turned into a Cityscapes start point, whose classifier
rows come from the Mapillary classes that the mapping names."""
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint

from mmseg.datasets import CityscapesDataset, MapillaryDataset_v1
from mmseg.registry import DATASETS, MODELS
from rgpnet_mmseg.datasets.class_mappings import (CITYSCAPES_CLASSES,
                                                  CITYSCAPES_FROM_MAPILLARY,
                                                  MAPILLARY_65_CLASSES,
                                                  MAPILLARY_TO_CITYSCAPES,
                                                  MAPILLARY_V12_CLASSES,
                                                  unmapped_mapillary_classes)
from rgpnet_mmseg.utils.cpu_config import without_syncbn_and_pretrained
from rgpnet_mmseg.utils.preflight import PreflightError, check_data
from .conftest import CONFIG_DIR, REPO_ROOT, load_tool

TOOL = REPO_ROOT / 'tools' / 'model_converters' / 'mapillary2cityscapes.py'
MAPILLARY_CFG = (CONFIG_DIR / 'rgpnet' /
                 'rgpnet_r18-d32_2xb6-80k_mapillary-1024x1024.py')
PM_CFG = (CONFIG_DIR / 'rgpnet' /
          'rgpnet_r18-d32-mapillary-pre_2xb6-80k_cityscapes-1024x1024.py')
HEAD = 'decode_head.conv_seg'

# Rows of the 65-class Mapillary v1.2 classifier that make each of the 19
# Cityscapes rows, written out from the class lists (Mapillary index: name).
PRIMARY_ROWS = [
    13,  # road <- Road
    15,  # sidewalk <- Sidewalk
    17,  # building <- Building
    6,  # wall <- Wall
    3,  # fence <- Fence
    45,  # pole <- Pole
    48,  # traffic light <- Traffic Light
    50,  # traffic sign <- Traffic Sign (Front)
    30,  # vegetation <- Vegetation
    29,  # terrain <- Terrain
    27,  # sky <- Sky
    19,  # person <- Person
    20,  # rider <- Bicyclist
    55,  # car <- Car
    61,  # truck <- Truck
    54,  # bus <- Bus
    58,  # train <- On Rails
    57,  # motorcycle <- Motorcycle
    52,  # bicycle <- Bicycle
]
# merge='mean': every Mapillary class that maps to the Cityscapes class
MEAN_ROWS = [
    [7, 8, 13, 14, 23, 24],  # road: Bike Lane, Crosswalk - Plain, Road,
    # Service Lane, Lane Marking - Crosswalk, Lane Marking - General
    [2, 9, 11, 15],  # sidewalk: Curb, Curb Cut, Pedestrian Area, Sidewalk
    [17], [6], [3],
    [44, 45, 46, 47],  # pole: Street Light, Pole, Traffic Sign Frame,
    # Utility Pole
    [48], [50], [30],
    [26, 29],  # terrain: Sand, Terrain
    [27], [19],
    [20, 21, 22],  # rider: Bicyclist, Motorcyclist, Other Rider
    [55], [61], [54], [58], [57], [52],
]


def _write_mapillary(root: Path, n: int = 2, size=(72, 96)) -> None:
    """A few images in the Mapillary v1.2 layout, label ids 0..65."""
    rng = np.random.default_rng(0)
    img_dir = root / 'training' / 'images'
    ann_dir = root / 'training' / 'v1.2' / 'labels'
    img_dir.mkdir(parents=True)
    ann_dir.mkdir(parents=True)
    for i in range(n):
        img = rng.integers(0, 256, size + (3, ), dtype=np.uint8)
        label = rng.integers(0, 66, (size[0] // 8, size[1] // 8),
                             dtype=np.uint8)
        label = np.kron(label, np.ones((8, 8), np.uint8))
        cv2.imwrite(str(img_dir / f'img{i}.jpg'), img)
        cv2.imwrite(str(ann_dir / f'img{i}.png'), label)


def _mapillary_train_cfg(data_root: Path, work_dir: Path) -> Config:
    """The R18 Mapillary config, shrunk to 1 iteration on 64x64 crops."""
    cfg = Config.fromfile(str(MAPILLARY_CFG))
    cfg.model = without_syncbn_and_pretrained(cfg.model)
    crop = (64, 64)
    cfg.model.data_preprocessor.size = crop
    pipeline = cfg.train_dataloader.dataset.pipeline
    pipeline[2].scale = (96, 96)
    pipeline[3].crop_size = crop
    cfg.train_dataloader.update(
        batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.data_root = str(data_root)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1,
                         val_interval=1000)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    return cfg


@pytest.fixture(scope='module')
def mapillary_ckpt(tmp_path_factory) -> Path:
    """A checkpoint saved by mmengine's Runner after a training iteration of
    the 65-class Mapillary config."""
    tmp = tmp_path_factory.mktemp('pm')
    _write_mapillary(tmp / 'mapillary')
    cfg = _mapillary_train_cfg(tmp / 'mapillary', tmp / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = tmp / 'work' / 'iter_1.pth'
    assert ckpt.is_file()
    return ckpt


def test_mapping_tables_are_consistent():
    assert tuple(MAPILLARY_TO_CITYSCAPES) == MAPILLARY_V12_CLASSES
    assert MAPILLARY_V12_CLASSES == MapillaryDataset_v1.METAINFO['classes']
    assert MAPILLARY_65_CLASSES == MAPILLARY_V12_CLASSES[:-1]
    assert CITYSCAPES_CLASSES == CityscapesDataset.METAINFO['classes']
    cfg = Config.fromfile(str(MAPILLARY_CFG))
    assert tuple(cfg.metainfo['classes']) == MAPILLARY_65_CLASSES
    assert cfg.model.decode_head.num_classes == 65
    for city_id in range(19):
        source = CITYSCAPES_FROM_MAPILLARY[city_id]
        assert MAPILLARY_TO_CITYSCAPES[source] == city_id
    values = set(MAPILLARY_TO_CITYSCAPES.values())
    assert values == set(range(19)) | {None}  # every train id is covered
    assert 'Unlabeled' in unmapped_mapillary_classes()
    assert 'Road' not in unmapped_mapillary_classes()


def test_mapillary_dataset_ignores_unlabeled(tmp_path):
    """With the config's 65 classes, v1.2's id 65 ("Unlabeled") -> 255;
    the test and TTA pipelines work at the base size 1536."""
    _write_mapillary(tmp_path)
    cfg = Config.fromfile(str(MAPILLARY_CFG))
    init_default_scope('mmseg')
    ds_cfg = cfg.val_dataloader.dataset.copy()
    ds_cfg.update(
        data_root=str(tmp_path),
        data_prefix=dict(
            img_path='training/images',
            seg_map_path='training/v1.2/labels'))
    ds = DATASETS.build(ds_cfg)
    sample = ds[0]
    assert sample['inputs'].shape == (3, 1152, 1536)  # long side 1536
    gt = sample['data_samples'].gt_sem_seg.data
    raw = cv2.imread(
        str(tmp_path / 'training' / 'v1.2' / 'labels' / 'img0.png'),
        cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(gt[0].numpy(),
                                  np.where(raw == 65, 255, raw))
    # MS+F (`tools/test.py --tta`): scales of the base size, both flips
    ds_cfg.pipeline = cfg.tta_pipeline
    views = DATASETS.build(ds_cfg)[0]['inputs']
    assert len(views) == 12
    assert views[0].shape == (3, 576, 768)  # 0.5 x 1536
    assert views[4].shape == (3, 1152, 1536)  # 1.0


def test_pm_tool_reorders_classifier_rows(mapillary_ckpt, tmp_path):
    out = tmp_path / 'city_init.pth'
    result = subprocess.run(
        [sys.executable, str(TOOL),
         str(mapillary_ckpt), str(out)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert 'rider <- Bicyclist' in result.stdout

    # weights only: loadable by plain torch, no pickled objects
    assert torch.serialization.get_unsafe_globals_in_checkpoint(
        str(out)) == []
    new = torch.load(str(out), map_location='cpu', weights_only=True)
    old = torch.load(str(mapillary_ckpt), map_location='cpu')
    assert old['meta']['dataset_meta']['classes'] == MAPILLARY_65_CLASSES
    assert list(new['meta']['dataset_meta']['classes']) == list(
        CITYSCAPES_CLASSES)
    old_sd, new_sd = old['state_dict'], new['state_dict']
    assert set(new_sd) == set(old_sd)

    w_old, b_old = old_sd[f'{HEAD}.weight'], old_sd[f'{HEAD}.bias']
    w_new, b_new = new_sd[f'{HEAD}.weight'], new_sd[f'{HEAD}.bias']
    assert w_old.shape[0] == 65 and w_new.shape == (19, ) + w_old.shape[1:]
    assert b_new.shape == (19, )
    # the rows land where the mapping says, Cityscapes id by id
    for city_id, src in enumerate(PRIMARY_ROWS):
        assert torch.equal(w_new[city_id], w_old[src]), city_id
        assert torch.equal(b_new[city_id], b_old[src]), city_id
    for key in old_sd:
        if not key.startswith(HEAD):
            assert torch.equal(new_sd[key], old_sd[key]), key

    # the Cityscapes PM config's model takes every weight of it (strictly;
    # the Runner loads `load_from` with the same function)
    cfg = Config.fromfile(str(PM_CFG))
    assert cfg.load_from.endswith('.pth')
    assert cfg.model.backbone.init_cfg is None
    init_default_scope('mmseg')
    model = MODELS.build(without_syncbn_and_pretrained(cfg.model))
    load_checkpoint(model, str(out), map_location='cpu', strict=True)
    loaded = model.state_dict()
    assert set(loaded) == set(new_sd)
    for key, value in new_sd.items():
        assert torch.equal(loaded[key], value), key


def test_pm_tool_mean_merge_and_errors(mapillary_ckpt, tmp_path):
    tool = load_tool('model_converters/mapillary2cityscapes')
    out = tmp_path / 'mean.pth'
    table = dict(tool.convert(str(mapillary_ckpt), str(out), merge='mean'))
    assert table['road'] == [
        'Bike Lane', 'Crosswalk - Plain', 'Road', 'Service Lane',
        'Lane Marking - Crosswalk', 'Lane Marking - General'
    ]
    assert table['rider'] == ['Bicyclist', 'Motorcyclist', 'Other Rider']
    old = torch.load(str(mapillary_ckpt), map_location='cpu')['state_dict']
    new = torch.load(str(out), map_location='cpu')['state_dict']
    for key in (f'{HEAD}.weight', f'{HEAD}.bias'):
        for city_id, idx in enumerate(MEAN_ROWS):
            expected = sum(old[key][i] for i in idx) / len(idx)
            torch.testing.assert_close(new[key][city_id], expected)

    # a Cityscapes checkpoint is no Mapillary model: refused, naming what
    # is missing
    with pytest.raises(ValueError, match='has no rows for'):
        tool.convert(str(out), str(tmp_path / 'again.pth'))
    with pytest.raises(FileNotFoundError):
        tool.convert(str(tmp_path / 'missing.pth'), str(tmp_path / 'x.pth'))


def test_preflight_names_mapillary_layout(tmp_path):
    cfg = Config.fromfile(str(MAPILLARY_CFG))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'missing')
    with pytest.raises(PreflightError) as err:
        check_data(cfg, ('train_dataloader', ))
    msg = str(err.value)
    assert 'MapillaryDataset_v1' in msg
    assert 'training/v1.2/labels' in msg and 'mapillary.com' in msg
