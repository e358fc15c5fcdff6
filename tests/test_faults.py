# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Faults survived, nothing lost: a killed run resumes exactly where its
last checkpoint left off; bad checkpoints, images, label files and label
values, and NaN losses stop with one message that names the culprit, before
anything good is overwritten. docs/reliability.md lists these tests."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader
from PIL import Image
from torch.utils.data import DataLoader

import rgpnet_mmseg  # noqa: F401
from mmseg.registry import DATASETS
from rgpnet_mmseg.compat import CheckpointError
from rgpnet_mmseg.datasets.transforms import DataFileError
from rgpnet_mmseg.engine.hooks import label_check_hook
from rgpnet_mmseg.engine.hooks.label_check_hook import (LabelCheckHook,
                                                        LabelValueError)
from rgpnet_mmseg.engine.hooks.non_finite_loss_hook import NonFiniteLossHook
from . import reliability_hooks  # noqa: F401  (registers the test hooks)
from .conftest import CONFIG_DIR, REPO_ROOT
from .run_helpers import (FIXED_PIPELINE, RANDOM_PIPELINE, mini_data_root,
                          output, read_record, run_train, tool_env,
                          train_cmd, train_in_process, write_config)

DEMO_CFG = CONFIG_DIR / 'rgpnet_r18_demo.py'


@pytest.fixture(autouse=True)
def one_thread():
    """In-process runs: one intra-op thread (faster on a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------
# A run killed with SIGKILL resumes from its last checkpoint
# --------------------------------------------------------------------------
# 5 iterations of the progressive-resize + label-relaxation demo (random
# resize/crop/flip, BN, AdamW with warm-up), checkpoints every 2, scales
# 0.5 -> 0.75 (from iteration index 2) -> 1.0 (from index 4).
RESUME = dict(
    max_iters=5,
    batch_size=2,
    checkpoint_interval=2,
    stages=[(0, 0.5), (2, 0.75), (4, 1.0)],
    pipeline=RANDOM_PIPELINE)


def demo_lr(iteration: int) -> float:
    """lr of the demo's linear warm-up (0.1 -> 1 of 0.002 over 19 steps) at
    1-based ``iteration``."""
    return 0.002 * (0.1 + 0.9 * (iteration - 1) / 19)


def test_killed_run_resumes_where_its_checkpoint_left_off(
        demo_data_root, tmp_path):
    """SIGKILL after iteration 3 (its checkpoint of iteration 2 written,
    iteration 3 done but not saved), then ``tools/train.py --resume``:
    iteration 3 is redone exactly as the killed run did it (same images
    and random augmentation, learning rate, progressive-resize scale,
    input size, losses, and bitwise the same weights after the step), and
    the run goes on through the next stage to its end."""
    killed_cfg = write_config(
        tmp_path / 'killed.py',
        demo_data_root,
        extra_hooks=[dict(type='StallHook', after_iter=3)],
        **RESUME)
    resume_cfg = write_config(tmp_path / 'resume.py', demo_data_root,
                              **RESUME)
    work = tmp_path / 'work'
    log_path = tmp_path / 'killed.log'
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(
            train_cmd(killed_cfg, work),
            cwd=REPO_ROOT,
            env=tool_env('killed'),
            stdout=log,
            stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 600
            while not (work / 'stalled').exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail('the run to kill did not reach iteration '
                                '3:\n' + log_path.read_text()[-3000:])
                time.sleep(0.2)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGKILL
    # what the kill left: the checkpoint of iteration 2 and its record
    assert (work / 'last_checkpoint').read_text().strip() == str(
        work / 'iter_2.pth')
    assert sorted(p.name for p in work.glob('*.pth')) == ['iter_2.pth']
    killed = read_record(work, 'killed')
    assert [it['iter'] for it in killed['iters']] == [1, 2, 3]

    proc = run_train(resume_cfg, work, '--resume', tag='resumed')
    assert proc.returncode == 0, output(proc)[-3000:]
    assert 'resumed epoch: 0, iter: 2' in output(proc)
    resumed = read_record(work, 'resumed')
    assert resumed['start_iter'] == 2
    assert [it['iter'] for it in resumed['iters']] == [3, 4, 5]
    # iteration 3 again, exactly as the uninterrupted run did it
    assert resumed['iters'][0] == killed['iters'][2]
    assert [(it['scale'], it['input_shape']) for it in killed['iters']] == [
        (0.5, [2, 3, 32, 64]), (0.5, [2, 3, 32, 64]), (0.75, [2, 3, 48, 96])
    ]
    # and on, into the full-size stage, with the warm-up schedule going on
    assert [(it['scale'], it['input_shape'])
            for it in resumed['iters']] == [(0.75, [2, 3, 48, 96]),
                                             (0.75, [2, 3, 48, 96]),
                                             (1.0, [2, 3, 64, 128])]
    for it in killed['iters'] + resumed['iters']:
        assert it['lr'] == pytest.approx(demo_lr(it['iter']), rel=1e-9)
    ckpt = torch.load(work / 'iter_4.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 4
    assert ckpt['param_schedulers'][0]['_global_step'] == 4
    assert (work / 'last_checkpoint').read_text().strip() == str(
        work / 'iter_5.pth')


# --------------------------------------------------------------------------
# NaN / inf losses
# --------------------------------------------------------------------------
def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(
        demo_data_root, tmp_path):
    """The classifier turns NaN before iteration 4, a checkpoint iteration:
    training stops at iteration 4 naming the loss; iter_4.pth is never
    written, so iter_2.pth is neither replaced nor removed by
    ``max_keep_ckpts=1`` and holds finite weights."""
    cfg = write_config(
        tmp_path / 'nan.py',
        demo_data_root,
        max_iters=6,
        batch_size=1,
        checkpoint_interval=2,
        max_keep_ckpts=1,
        extra_hooks=[dict(type='PoisonHook', at_iter=4)])
    work = tmp_path / 'work'
    with pytest.raises(FloatingPointError) as err:
        train_in_process(cfg, work)
    msg = str(err.value)
    assert 'Non-finite loss at iteration 4' in msg
    assert 'decode.loss_lr=nan' in msg and 'loss=nan' in msg
    assert f'The last checkpoint, {work / "iter_2.pth"}, ' in msg
    assert sorted(p.name for p in work.glob('*.pth')) == ['iter_2.pth']
    assert (work / 'last_checkpoint').read_text().strip() == str(
        work / 'iter_2.pth')
    ckpt = torch.load(work / 'iter_2.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 2
    assert all(
        torch.isfinite(v).all() for v in ckpt['state_dict'].values()
        if v.is_floating_point())
    # the record of iteration 4 was never written: the hook ran first
    assert [it['iter'] for it in read_record(work)['iters']] == [1, 2, 3]


def fake_runner(tmp_path, iteration: int = 6):
    return SimpleNamespace(
        iter=iteration,
        epoch=0,
        work_dir=str(tmp_path),
        message_hub=MessageHub.get_instance(f'nonfinite_{tmp_path.name}'))


def test_finite_losses_and_non_loss_nans_pass(tmp_path):
    """Only ``*loss*`` items count: a NaN accuracy passes, an inf loss is
    named with its value (one process: no rank), the accuracy is not. The
    cross-rank stop: tests/test_distributed.py, with two real processes."""
    hook = NonFiniteLossHook()
    hook.after_train_iter(
        fake_runner(tmp_path), 0,
        outputs={'loss': torch.tensor(0.3),
                 'decode.acc_seg': torch.tensor(float('nan'))})
    hook.after_train_iter(fake_runner(tmp_path), 0, outputs=None)
    with pytest.raises(FloatingPointError) as err:
        hook.after_train_iter(
            fake_runner(tmp_path), 0,
            outputs={'loss': torch.tensor(float('inf')),
                     'decode.loss_ce': torch.tensor([1.0, float('-inf')]),
                     'decode.loss_lr': torch.tensor(0.5),
                     'decode.acc_seg': torch.tensor(float('nan'))})
    msg = str(err.value)
    assert msg.startswith('Non-finite loss at iteration 7 (epoch 0): '
                          'loss=inf, decode.loss_ce=-inf. ')
    assert 'rank' not in msg and 'No checkpoint had been written yet' in msg
    with pytest.raises(ValueError, match='interval'):
        NonFiniteLossHook(interval=0)


# --------------------------------------------------------------------------
# Label values that are neither a class nor ignore_index
# --------------------------------------------------------------------------
def test_label_values_outside_the_classes_are_named(demo_data_root,
                                                    tmp_path):
    """A label map with values 19 and 33 (19 classes, ignore 255) stops
    training before the first forward pass (where CUDA would hit a
    device-side assert) with the file and the values; nothing is saved."""
    root = mini_data_root(tmp_path / 'data', demo_data_root, n_train=2)
    bad_file = sorted((root / 'gtFine' / 'train').rglob('*.png'))[1]
    label = np.array(Image.open(bad_file))
    label[10:40, 10:40] = 33
    label[60:90, 100:140] = 19
    Image.fromarray(label).save(bad_file)
    cfg = write_config(
        tmp_path / 'labels.py',
        root,
        max_iters=2,
        batch_size=2,
        checkpoint_interval=1,
        pipeline=FIXED_PIPELINE)
    work = tmp_path / 'work'
    with pytest.raises(LabelValueError) as err:
        train_in_process(cfg, work)
    msg = str(err.value)
    assert f'{bad_file} holds ' in msg and 'values [19, 33]' in msg
    assert 'num_classes=19' in msg and 'ignore_index=255' in msg
    good_file = sorted((root / 'gtFine' / 'train').rglob('*.png'))[0]
    assert str(good_file) not in msg
    assert not list(work.glob('*.pth'))


def test_label_check_of_validation_batches(tmp_path):
    """Validation batches are checked too (IoUMetric would silently drop
    the pixels); labels in range and the ignore index pass."""
    from mmengine.structures import PixelData

    from mmseg.structures import SegDataSample

    def batch(values):
        sample = SegDataSample(metainfo=dict(seg_map_path='/x/a.png'))
        sample.gt_sem_seg = PixelData(data=torch.tensor([[values]]))
        return dict(data_samples=[sample])

    head = SimpleNamespace(num_classes=4, ignore_index=255)
    runner = SimpleNamespace(
        model=SimpleNamespace(decode_head=head, auxiliary_head=None))
    hook = LabelCheckHook()
    hook.before_val_iter(runner, 0, batch([0, 3, 255]))
    with pytest.raises(LabelValueError, match=r'/x/a.png holds 2 pixels '
                       r'with values \[4, 254\]'):
        hook.before_val_iter(runner, 0, batch([0, 4, 254, 255]))
    LabelCheckHook(check_val=False).before_val_iter(runner, 0, batch([7]))
    # the strictest of decode and auxiliary heads
    runner.model.auxiliary_head = SimpleNamespace(num_classes=3,
                                                  ignore_index=255)
    with pytest.raises(LabelValueError, match='auxiliary_head'):
        hook.before_train_iter(runner, 0, batch([3]))
    assert label_check_hook._head_limits(SimpleNamespace()) is None


# --------------------------------------------------------------------------
# Broken image and label files
# --------------------------------------------------------------------------
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4)


def _empty(path: Path) -> None:
    path.write_bytes(b'')


def _colour(path: Path) -> None:
    label = np.array(Image.open(path))
    Image.fromarray(np.stack([label] * 3, axis=-1)).save(path)


BREAKAGES = {
    'image-truncated': ('leftImg8bit', _truncate, DataFileError),
    'image-garbage': ('leftImg8bit', _garbage, DataFileError),
    'image-empty': ('leftImg8bit', _empty, DataFileError),
    'label-truncated': ('gtFine', _truncate, DataFileError),
    'label-garbage': ('gtFine', _garbage, DataFileError),
    'label-empty': ('gtFine', _empty, DataFileError),
    'label-colour': ('gtFine', _colour, DataFileError),
    'label-missing': ('gtFine', Path.unlink, FileNotFoundError),
}
EXPECTED_START = {
    DataFileError: ('Cannot read image file', 'Cannot read label map file',
                    'Label map '),
    FileNotFoundError: ('Image file not found', 'Label map file not found'),
}


def broken_dataset(demo_data_root, tmp_path, kind, breaker):
    """The train split of a one-sample copy of the demo data, through the
    demo's training pipeline, with its image or label file broken."""
    root = mini_data_root(tmp_path / 'data', demo_data_root, n_train=1)
    target = next((root / kind / 'train').rglob('*.png'))
    breaker(target)
    init_default_scope('mmseg')
    dataset = DATASETS.build(
        dict(
            type='CityscapesDataset',
            data_root=str(root),
            data_prefix=dict(
                img_path='leftImg8bit/train', seg_map_path='gtFine/train'),
            pipeline=RANDOM_PIPELINE))
    return dataset, target


@pytest.mark.parametrize('case', sorted(BREAKAGES))
def test_broken_image_or_label_file_is_named(case, demo_data_root,
                                             tmp_path):
    kind, breaker, error = BREAKAGES[case]
    dataset, target = broken_dataset(demo_data_root, tmp_path, kind,
                                     breaker)
    with pytest.raises(error) as err:
        dataset[0]
    msg = str(err.value)
    assert str(target) in msg
    assert msg.startswith(EXPECTED_START[error]), msg
    if case == 'label-colour':
        assert 'decodes to an array of shape (128, 256, 3)' in msg


def test_import_adds_the_checked_loaders_and_replaces_nothing():
    """``import rgpnet_mmseg`` leaves mmcv's and mmseg's loaders registered
    under their names, adds the checked ones beside them, and loads no demo
    code (a fresh interpreter)."""
    code = (
        'import sys\n'
        'import mmseg.datasets\n'
        'from mmcv.transforms import LoadImageFromFile\n'
        'from mmseg.datasets.transforms import LoadAnnotations\n'
        'from mmseg.registry import TRANSFORMS\n'
        'import rgpnet_mmseg\n'
        "assert TRANSFORMS.get('LoadImageFromFile') is LoadImageFromFile\n"
        "assert TRANSFORMS.get('LoadAnnotations') is LoadAnnotations\n"
        "checked = TRANSFORMS.get('CheckedLoadAnnotations')\n"
        'assert issubclass(checked, LoadAnnotations)\n'
        "demo = [m for m in sys.modules if m.startswith('rgpnet_mmseg') "
        "and 'demo' in m]\n"
        'assert not demo, demo\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT,
                          env=tool_env(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, output(proc)


def test_missing_image_file_is_named(tmp_path):
    """(A data set lists its images from disk, so a missing image only
    happens with file lists; the transform names it.)"""
    from mmseg.registry import TRANSFORMS
    init_default_scope('mmseg')
    load = TRANSFORMS.build(dict(type='CheckedLoadImageFromFile'))
    with pytest.raises(FileNotFoundError,
                       match=f'Image file not found: {tmp_path}/x.png'):
        load(dict(img_path=str(tmp_path / 'x.png')))


def test_broken_file_is_named_through_dataloader_workers(
        demo_data_root, tmp_path):
    """Real configs load in worker processes: the error crosses over with
    its type and the file name."""
    dataset, target = broken_dataset(demo_data_root, tmp_path, 'gtFine',
                                     _truncate)
    loader = DataLoader(
        dataset, batch_size=1, num_workers=1, collate_fn=pseudo_collate)
    with pytest.raises(DataFileError, match=str(target)):
        next(iter(loader))


# --------------------------------------------------------------------------
# Broken and unsafe checkpoints
# --------------------------------------------------------------------------
def _checkpoint(path: Path) -> Path:
    torch.save(
        {
            'meta': dict(iter=2),
            'state_dict': {
                'decode_head.conv_seg.weight': torch.randn(19, 64, 1, 1),
                'backbone.stem.0.weight': torch.randn(32, 3, 3, 3)
            }
        }, path)
    return path


def test_test_tool_names_a_truncated_checkpoint(demo_data_root, tmp_path):
    ckpt = _checkpoint(tmp_path / 'iter_2.pth')
    _truncate(ckpt)
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / 'tools' / 'test.py'),
            str(DEMO_CFG),
            str(ckpt), '--work-dir',
            str(tmp_path / 'wd'), '--cfg-options',
            f'test_dataloader.dataset.data_root={demo_data_root}',
            'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False'
        ],
        cwd=REPO_ROOT,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode != 0
    last_line = proc.stderr.strip().splitlines()[-1]
    assert 'CheckpointError: Cannot read checkpoint' in last_line
    assert f'{ckpt}: the file is truncated or corrupted' in last_line


def test_mmengine_checkpoint_loads_weights_only(tmp_path):
    """rgpnet_mmseg.compat.mmengine (mmengine#1655): what mmengine's Runner
    saves beside the weights (the MessageHub's HistoryBuffers, numpy
    scalars and arrays) loads through mmengine's CheckpointLoader with
    ``weights_only=True``; mmengine 0.10.7 alone fails on torch >= 2.6."""
    hub = MessageHub.get_instance(f'compat_{tmp_path.name}')
    for loss in (0.5, 1.5):
        hub.update_scalar('train/loss', loss)
    ckpt = tmp_path / 'iter_2.pth'
    torch.save({'meta': dict(seed=np.int64(3), arr=np.arange(3.)),
                'message_hub': hub.state_dict(),
                'state_dict': dict(w=torch.ones(2))}, ckpt)
    loaded = CheckpointLoader.load_checkpoint(str(ckpt), map_location='cpu')
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 1.0
    assert loaded['meta']['seed'] == 3
    assert loaded['meta']['arr'].tolist() == [0., 1., 2.]


@pytest.mark.parametrize('breaker', [
    pytest.param(_truncate, id='truncated'),
    pytest.param(_garbage, id='garbage'),
    pytest.param(_empty, id='empty')
])
def test_our_check_names_a_corrupted_checkpoint(breaker, tmp_path):
    """The check our entry points run before mmengine's own loader (which
    rgpnet_mmseg no longer replaces) names the file in one line."""
    from rgpnet_mmseg.utils.checkpoint import read_checkpoint
    ckpt = _checkpoint(tmp_path / 'model.pth')
    breaker(ckpt)
    with pytest.raises(CheckpointError,
                       match=f'Cannot read checkpoint {ckpt}: '):
        read_checkpoint(str(ckpt))


@pytest.mark.parametrize(
    'bad',
    ['truncated', 'pickled-program'])
def test_resume_refuses_a_bad_checkpoint_and_names_it(
        bad, demo_data_root, tmp_path):
    """``--resume`` onto a truncated (e.g. disk full) or a malicious
    checkpoint: one error naming it, the payload never runs, nothing is
    trained or saved."""
    marker = tmp_path / 'pwned'
    ckpt = tmp_path / 'work' / 'iter_2.pth'
    ckpt.parent.mkdir()
    if bad == 'truncated':
        _truncate(_checkpoint(ckpt))
    else:

        class Payload:

            def __reduce__(self):
                return (os.system, (f'touch {marker}', ))

        torch.save({'meta': {}, 'state_dict': {}, 'x': Payload()}, ckpt)
    cfg = write_config(
        tmp_path / 'cfg.py',
        demo_data_root,
        max_iters=2,
        batch_size=1,
        checkpoint_interval=1)
    proc = run_train(cfg, tmp_path / 'work', '--resume', '--cfg-options',
                     f'load_from={ckpt}')
    assert proc.returncode == 1, output(proc)[-3000:]
    assert 'CheckpointError' in proc.stderr.strip().splitlines()[-1]
    assert str(ckpt) in proc.stderr.strip().splitlines()[-1]
    assert not marker.exists()
    assert sorted(p.name for p in (tmp_path / 'work').glob('*.pth')) == [
        'iter_2.pth'
    ]
