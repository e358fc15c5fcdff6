# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""tools/train.py and tools/test.py end to end on the demo data: a real
mmengine Runner trains, saves, resumes and tests RGPNet-R18."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from .conftest import CONFIG_DIR, REPO_ROOT

DEMO_CFG = str(CONFIG_DIR / 'rgpnet_r18_demo.py')
CITYSCAPES_CFG = str(CONFIG_DIR / 'rgpnet_r18_cityscapes.py')


def run_tool(*args, cwd=REPO_ROOT, timeout=900):
    """Run a tool of ours in a fresh interpreter, as a user would."""
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    tool, *rest = args
    return subprocess.run([sys.executable, str(REPO_ROOT / tool),
                           *map(str, rest)],
                          cwd=cwd,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=timeout)


def demo_options(root: Path, max_iters: int) -> list:
    """Shrink the demo run to a few iterations on small batches."""
    opts = [
        f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}',
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=5',
        'default_hooks.logger.interval=1',
        'train_dataloader.batch_size=2',
    ]
    for split in ('train', 'val', 'test'):
        opts += [
            f'{split}_dataloader.dataset.data_root={root}',
            f'{split}_dataloader.num_workers=0',
            f'{split}_dataloader.persistent_workers=False',
        ]
    return ['--cfg-options', *opts]


def assert_ok(proc):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope='module')
def trained(demo_data_root, tmp_path_factory):
    """Train 4 iterations with tools/train.py (checkpoints at 2 and 4)."""
    work_dir = tmp_path_factory.mktemp('demo_run')
    proc = run_tool('tools/train.py', DEMO_CFG, '--work-dir', work_dir,
                    *demo_options(demo_data_root, 4))
    assert_ok(proc)
    return work_dir, proc


def test_train_saves_checkpoints_and_evaluates(trained):
    work_dir, proc = trained
    assert (work_dir / 'iter_2.pth').is_file()
    assert (work_dir / 'iter_4.pth').is_file()
    last = (work_dir / 'last_checkpoint').read_text().strip()
    assert Path(last).name == 'iter_4.pth'
    log = proc.stdout + proc.stderr
    assert 'mIoU' in log and 'Iter(val)' in log


def test_checkpoint_loads_weights_only(trained):
    """An mmengine checkpoint opens with plain weights-only torch.load once
    rgpnet_mmseg is imported (the allow-list), and holds what resuming
    needs."""
    import rgpnet_mmseg  # noqa: F401
    work_dir, _ = trained
    ckpt = torch.load(work_dir / 'iter_4.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 4
    assert 'decode_head.transfers.0.conv.weight' in ckpt['state_dict']
    assert {'optimizer', 'message_hub', 'param_schedulers'} <= set(ckpt)
    scalars = ckpt['message_hub']['log_scalars']
    assert scalars['train/loss'].current() > 0


def test_resume_continues_from_the_last_checkpoint(trained, demo_data_root,
                                                   tmp_path):
    work_dir, _ = trained
    # resume in a copy, so the other tests keep the 4-iteration run
    resumed = tmp_path / 'resumed'
    resumed.mkdir()
    for name in ('iter_4.pth', ):
        (resumed / name).write_bytes((work_dir / name).read_bytes())
    (resumed / 'last_checkpoint').write_text(str(resumed / 'iter_4.pth'))
    proc = run_tool('tools/train.py', DEMO_CFG, '--work-dir', resumed,
                    '--resume', *demo_options(demo_data_root, 6))
    assert_ok(proc)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 4' in log
    assert 'Iter(train) [5/6]' in log and 'Iter(train) [1/6]' not in log
    ckpt = torch.load(resumed / 'iter_6.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 6
    # the learning-rate schedule went on from iteration 4 as well: the
    # demo's linear warm-up (0.1 -> 1 of lr 0.002 over 19 steps) at step 6
    assert ckpt['param_schedulers'][0]['_global_step'] == 6
    assert ckpt['optimizer']['param_groups'][0]['lr'] == pytest.approx(
        0.002 * (0.1 + 0.9 * 6 / 19))


def test_test_tool_evaluates_and_paints(trained, demo_data_root):
    work_dir, _ = trained
    proc = run_tool('tools/test.py', DEMO_CFG, work_dir / 'iter_4.pth',
                    '--work-dir', work_dir / 'test', '--show-dir', 'vis',
                    *demo_options(demo_data_root, 4),
                    'default_hooks.visualization.interval=1')
    assert_ok(proc)
    assert 'mIoU' in proc.stdout + proc.stderr
    pictures = list((work_dir / 'test').rglob('vis/**/*.png'))
    n_val = len(list((demo_data_root / 'leftImg8bit' / 'val').rglob('*.png')))
    assert len(pictures) == n_val


def test_test_tool_refuses_a_pickled_program(trained, demo_data_root,
                                             tmp_path):
    marker = tmp_path / 'pwned'

    class Payload:

        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': Payload()}, evil)
    proc = run_tool('tools/test.py', DEMO_CFG, evil, '--work-dir',
                    tmp_path / 'wd', *demo_options(demo_data_root, 4))
    assert proc.returncode != 0
    assert 'Refusing to load checkpoint' in proc.stderr
    assert str(evil) in proc.stderr
    assert not marker.exists()


def test_test_tool_missing_checkpoint(tmp_path):
    proc = run_tool('tools/test.py', DEMO_CFG, tmp_path / 'nope.pth')
    assert proc.returncode == 1
    assert f'Checkpoint file not found: {tmp_path / "nope.pth"}' \
        in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_train_without_cityscapes_says_where_it_belongs(tmp_path):
    proc = run_tool('tools/train.py', CITYSCAPES_CFG, cwd=tmp_path)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    expected = tmp_path / 'data' / 'cityscapes' / 'leftImg8bit' / 'train'
    assert str(expected) in proc.stderr
    assert 'CityscapesDataset' in proc.stderr


def test_train_without_pretrained_file_says_which(demo_data_root, tmp_path):
    proc = run_tool(
        'tools/train.py', CITYSCAPES_CFG, '--cfg-options',
        f'train_dataloader.dataset.data_root={demo_data_root}',
        f'val_dataloader.dataset.data_root={demo_data_root}',
        f'model.backbone.init_cfg.checkpoint={tmp_path}/resnet18.pth',
        cwd=tmp_path)
    assert proc.returncode == 1
    assert 'Traceback' not in proc.stderr
    assert 'model.backbone.init_cfg.checkpoint' in proc.stderr
    assert f'{tmp_path}/resnet18.pth' in proc.stderr


def test_missing_config_is_reported(tmp_path):
    proc = run_tool('tools/train.py', tmp_path / 'nope.py')
    assert proc.returncode == 1
    assert 'Config file not found' in proc.stderr
