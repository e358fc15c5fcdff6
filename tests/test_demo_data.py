# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The deterministic synthetic Cityscapes-format demo data set
(tools/make_demo_data.py, tools/demo_renderer.py)."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .conftest import REPO_ROOT, load_tool

TOOL = REPO_ROOT / 'tools' / 'make_demo_data.py'
generate_demo_cityscapes = load_tool('make_demo_data').generate_demo_cityscapes
MANIFEST_NAME = load_tool('make_demo_data').MANIFEST_NAME
CLASSES = load_tool('demo_renderer').CLASSES
PALETTE = load_tool('demo_renderer').PALETTE
IGNORE_INDEX = load_tool('demo_renderer').IGNORE_INDEX
SMALL = dict(num_train=4, num_val=2, height=64, width=128, seed=1)
SPLITS = ('train', 'val')
VALID_LABELS = set(range(len(CLASSES))) | {IGNORE_INDEX}


def all_files(root) -> list:
    """Relative posix paths of all files under ``root``, sorted."""
    root = Path(root)
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file())


def read_split(root, split: str) -> list:
    """``(name, image, label)`` for every sample of a split, by name."""
    samples = []
    img_dir = Path(root) / 'leftImg8bit' / split / 'democity'
    for img_path in sorted(img_dir.glob('*_leftImg8bit.png')):
        name = img_path.name[:-len('_leftImg8bit.png')]
        seg_path = (
            Path(root) / 'gtFine' / split / 'democity' /
            f'{name}_gtFine_labelTrainIds.png')
        with Image.open(img_path) as img, Image.open(seg_path) as seg:
            assert img.mode == 'RGB'
            assert seg.mode == 'L'
            samples.append((name, np.asarray(img), np.asarray(seg)))
    return samples


@pytest.fixture(scope='module')
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp('demo_small')
    return root, generate_demo_cityscapes(str(root), **SMALL)


def test_layout_and_naming(small_set):
    root, summary = small_set
    expected = [MANIFEST_NAME]
    for split in SPLITS:
        for i in range(SMALL[f'num_{split}']):
            name = f'democity_{i:06d}_000019'
            expected += [
                f'leftImg8bit/{split}/democity/{name}_leftImg8bit.png',
                f'gtFine/{split}/democity/{name}_gtFine_labelTrainIds.png'
            ]
    assert all_files(root) == sorted(expected)
    assert summary['generated'] is True
    assert summary['data_root'] == str(root)
    assert summary['classes'] == list(CLASSES)
    for split in SPLITS:
        assert summary['splits'][split]['num_samples'] == SMALL[
            f'num_{split}']
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest['format_version'] == 1
    assert manifest['args'] == dict(SMALL, city='democity')
    assert manifest == {
        k: v
        for k, v in summary.items() if k not in ('data_root', 'generated')
    }


def test_the_data_is_that_of_the_measured_demo(small_set):
    """The docs' demo numbers were measured on this data: the PNGs are
    byte for byte those of the generator they were measured with."""
    root, _ = small_set
    digest = hashlib.sha256()
    for rel in all_files(root):
        if rel.endswith('.png'):
            digest.update(rel.encode())
            digest.update((root / rel).read_bytes())
    assert digest.hexdigest() == (
        '57671690a48369069365b61704c2be356c5383a134591e653d174c7f12b7067f')


def test_images_and_labels(small_set):
    root, _ = small_set
    for split in SPLITS:
        samples = read_split(root, split)
        assert len(samples) == SMALL[f'num_{split}']
        for name, img, label in samples:
            assert img.shape == (64, 128, 3) and img.dtype == np.uint8
            assert label.shape == (64, 128) and label.dtype == np.uint8
            assert set(np.unique(label).tolist()) <= VALID_LABELS, name
            # a real picture, not a flat fill: several classes and colours
            assert len(np.unique(label)) >= 5, name
            assert img.reshape(-1, 3).std(0).min() > 10, name


def test_every_class_in_each_split_and_counts_match(small_set):
    root, summary = small_set
    for split in SPLITS:
        counts = np.zeros(256, np.int64)
        for _, _, label in read_split(root, split):
            counts += np.bincount(label.ravel(), minlength=256)
        assert (counts[:len(CLASSES)] > 0).all(), (split, counts[:19])
        info = summary['splits'][split]
        assert info['class_pixel_counts'] == counts[:len(CLASSES)].tolist()
        assert info['ignore_pixel_count'] == int(counts[IGNORE_INDEX])
        assert counts.sum() == SMALL[f'num_{split}'] * 64 * 128


def test_single_tiny_sample_still_has_every_class(tmp_path):
    summary = generate_demo_cityscapes(
        str(tmp_path), num_train=1, num_val=1, height=32, width=32, seed=5)
    for split in SPLITS:
        (_, img, label), = read_split(tmp_path, split)
        assert img.shape == (32, 32, 3)
        present = set(np.unique(label).tolist())
        assert set(range(len(CLASSES))) <= present <= VALID_LABELS, split
        # the random draw cannot hold all 19 classes in one 32x32 scene
        assert summary['splits'][split]['forced'], split


def test_ego_vehicle_is_ignored_in_the_default_size(tmp_path):
    generate_demo_cityscapes(str(tmp_path), num_train=6, num_val=1, seed=0)
    labels = [label for _, _, label in read_split(tmp_path, 'train')]
    with_ego = [label for label in labels if (label == IGNORE_INDEX).any()]
    assert 0 < len(with_ego) < len(labels)
    for label in with_ego:
        rows = np.nonzero((label == IGNORE_INDEX).any(1))[0]
        # a strip at the bottom, at most ~12% of the height plus its curve
        assert rows.max() == label.shape[0] - 1
        assert rows.min() >= 0.8 * label.shape[0]


def test_colours_follow_the_palette_but_are_not_a_lookup(small_set):
    root, _ = small_set
    palette = np.asarray(PALETTE, np.float64)
    correct = total = 0
    for _, img, label in read_split(root, 'train'):
        dist = ((img[..., None, :].astype(np.float64) - palette)**2).sum(-1)
        valid = label != IGNORE_INDEX
        correct += (dist.argmin(-1)[valid] == label[valid]).sum()
        total += valid.sum()
    accuracy = correct / total
    # far above chance (1/19) but far from a per-pixel colour lookup
    assert 0.25 < accuracy < 0.9, accuracy


def test_same_arguments_give_identical_files(tmp_path):
    roots = [tmp_path / 'a', tmp_path / 'b', tmp_path / 'c']
    generate_demo_cityscapes(str(roots[0]), **SMALL)
    generate_demo_cityscapes(str(roots[1]), **SMALL)
    generate_demo_cityscapes(str(roots[2]), **dict(SMALL, seed=2))
    files = all_files(roots[0])
    assert files == all_files(roots[1]) == all_files(roots[2])
    for rel in files:
        assert (roots[0] / rel).read_bytes() == (roots[1] / rel).read_bytes()
    pngs = [rel for rel in files if rel.endswith('.png')]
    differ = [
        rel for rel in pngs
        if (roots[0] / rel).read_bytes() != (roots[2] / rel).read_bytes()
    ]
    assert len(differ) == len(pngs)


def test_second_call_writes_nothing_and_force_rewrites(tmp_path):
    generate_demo_cityscapes(str(tmp_path), **SMALL)
    old = 1_000_000_000
    for rel in all_files(tmp_path):
        os.utime(tmp_path / rel, ns=(old, old))
    contents = {
        rel: (tmp_path / rel).read_bytes()
        for rel in all_files(tmp_path)
    }

    summary = generate_demo_cityscapes(str(tmp_path), **SMALL)
    assert summary['generated'] is False
    assert summary['splits']['val']['class_pixel_counts'] == json.loads(
        (tmp_path /
         MANIFEST_NAME).read_text())['splits']['val']['class_pixel_counts']
    assert {(tmp_path / rel).stat().st_mtime_ns for rel in contents} == {old}

    summary = generate_demo_cityscapes(str(tmp_path), force=True, **SMALL)
    assert summary['generated'] is True
    assert all((tmp_path / rel).stat().st_mtime_ns != old for rel in contents)
    assert {
        rel: (tmp_path / rel).read_bytes()
        for rel in all_files(tmp_path)
    } == contents


def test_missing_file_or_new_arguments_regenerate(tmp_path):
    generate_demo_cityscapes(str(tmp_path), **dict(SMALL, num_train=3))
    lost = (
        tmp_path / 'gtFine' / 'train' / 'democity' /
        'democity_000001_000019_gtFine_labelTrainIds.png')
    lost.unlink()
    assert generate_demo_cityscapes(str(tmp_path),
                                    **dict(SMALL,
                                           num_train=3))['generated'] is True
    assert lost.is_file()

    # fewer samples: the stale third sample must not stay behind
    summary = generate_demo_cityscapes(
        str(tmp_path), **dict(SMALL, num_train=2))
    assert summary['generated'] is True
    train_files = [
        rel for rel in all_files(tmp_path) if '/train/' in f'/{rel}'
    ]
    assert len(train_files) == 4
    assert not any('democity_000002' in rel for rel in train_files)
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    assert manifest['args']['num_train'] == 2


@pytest.mark.parametrize('kwargs', [
    dict(num_train=0),
    dict(num_val=-1),
    dict(num_train=2.0),
    dict(height=31),
    dict(width=16),
    dict(height=0),
    dict(width=True),
    dict(seed=-1),
])
def test_bad_arguments_raise(tmp_path, kwargs):
    with pytest.raises(ValueError):
        generate_demo_cityscapes(str(tmp_path / 'out'), **kwargs)
    assert not (tmp_path / 'out').exists()


def test_empty_data_root_raises():
    with pytest.raises(ValueError):
        generate_demo_cityscapes('')


def test_tool_runs_without_mmseg_mmcv_or_torch(tmp_path):
    """tools/make_demo_data.py must not import the OpenMMLab stack."""
    out = tmp_path / 'demo'
    blocker = (
        'import runpy, sys\n'
        'class Block:\n'
        '    def find_spec(self, name, path=None, target=None):\n'
        "        if name.split('.')[0] in ('mmseg', 'mmcv', 'mmengine', "
        "'torch', 'rgpnet_mmseg'):\n"
        "            raise ImportError('blocked ' + name)\n"
        'sys.meta_path.insert(0, Block())\n'
        'sys.argv = sys.argv[1:]\n'
        "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    args = [
        sys.executable, '-c', blocker,
        str(TOOL), '--out',
        str(out), '--num-train', '2', '--num-val', '1', '--height', '32',
        '--width', '64', '--seed', '3'
    ]
    result = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert '2 train + 1 val' in result.stdout
    assert len(result.stdout.strip().splitlines()) == 1
    assert len(list((out / 'leftImg8bit' / 'train').rglob('*.png'))) == 2
    again = subprocess.run(
        args, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert 'nothing written' in again.stdout
    bad = subprocess.run(
        args[:3] +
        [str(TOOL), '--out', str(out), '--height', '8'],
        capture_output=True,
        text=True,
        timeout=120)
    assert bad.returncode == 2 and 'height' in bad.stderr


def test_mmseg_cityscapes_dataset_loads_every_sample(small_set):
    pytest.importorskip('mmcv')
    from mmcv.transforms import LoadImageFromFile
    from mmseg.datasets import CityscapesDataset
    from mmseg.datasets.transforms import LoadAnnotations, PackSegInputs

    root, summary = small_set
    for split in SPLITS:
        dataset = CityscapesDataset(
            data_root=str(root),
            data_prefix=dict(
                img_path=f'leftImg8bit/{split}',
                seg_map_path=f'gtFine/{split}'),
            pipeline=[LoadImageFromFile(),
                      LoadAnnotations(),
                      PackSegInputs()])
        assert len(dataset) == SMALL[f'num_{split}']
        seen = set()
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            name = f'democity_{i:06d}_000019'
            assert info['img_path'].endswith(f'{name}_leftImg8bit.png')
            assert info['seg_map_path'].endswith(
                f'{name}_gtFine_labelTrainIds.png')
            packed = dataset[i]
            assert tuple(packed['inputs'].shape) == (3, 64, 128)
            gt = packed['data_samples'].gt_sem_seg.data
            assert tuple(gt.shape) == (1, 64, 128)
            values = set(gt.unique().tolist())
            assert values <= VALID_LABELS
            seen |= values
        assert set(range(len(CLASSES))) <= seen, split
