# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Scale-out: a real two-process run (``tools/dist_train.sh``, torchrun,
gloo on the CPU) of RGPNet with progressive resizing and the
label-relaxation loss, compared rank against rank and against one process
that trains on the whole batch; a NaN loss on one rank that stops both
ranks at the same iteration; the reduction of the losses across ranks;
the Slurm launchers' command lines. docs/distributed.md explains the
setup."""
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import rgpnet_mmseg  # noqa: F401
from mmseg.models.losses import CrossEntropyLoss
from rgpnet_mmseg.models.losses import LabelRelaxationLoss
from .conftest import REPO_ROOT
from .run_helpers import (FIXED_PIPELINE, free_port, output, read_record,
                          run_train, tool_env, train_cmd, write_config)

ITERS = 4
# scales per iteration: 0.5, 0.75, 0.75, 1.0 (of the 64 x 128 crops)
STAGES = [(0, 0.5), (1, 0.75), (3, 1.0)]
SHAPES = [[32, 64], [48, 96], [48, 96], [64, 128]]


@pytest.fixture(scope='module')
def runs(demo_data_root, tmp_path_factory):
    """Train ITERS iterations twice, at the same time:

    * ``dist``: ``bash tools/dist_train.sh CONFIG 2`` - two processes, one
      image each per iteration;
    * ``single``: ``tools/train.py`` - one process, two images per
      iteration.

    Same seed, sampler seed, fixed-size pipeline (no random augmentation,
    whose random stream is per process), GroupNorm (per-sample, unlike BN
    whose batch statistics differ between 2 x 1 and 1 x 2; SyncBN needs a
    GPU), SGD. Then the two runs compute the same thing, up to float
    rounding.
    """
    root = tmp_path_factory.mktemp('distributed')
    common = dict(
        max_iters=ITERS,
        checkpoint_interval=ITERS,
        stages=STAGES,
        pipeline=FIXED_PIPELINE,
        group_norm=True,
        sgd=True)
    dist_cfg = write_config(root / 'dist.py', demo_data_root, batch_size=1,
                            **common)
    single_cfg = write_config(root / 'single.py', demo_data_root,
                              batch_size=2, **common)
    env = tool_env('dist')
    env.update(PYTHON=sys.executable, PORT=str(free_port()))
    with open(root / 'dist.log', 'w') as log:
        dist = subprocess.Popen(
            [
                'bash',
                str(REPO_ROOT / 'tools' / 'dist_train.sh'),
                str(dist_cfg), '2', '--work-dir',
                str(root / 'dist')
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True)  # torchrun and its workers: one group
        try:
            single = run_train(single_cfg, root / 'single', tag='single')
            dist.wait(timeout=600)
        finally:
            if dist.poll() is None:
                os.killpg(dist.pid, signal.SIGKILL)
                dist.wait()
    dist_log = (root / 'dist.log').read_text()
    assert dist.returncode == 0, dist_log[-4000:]
    assert single.returncode == 0, output(single)[-4000:]
    return dict(root=root, dist_log=dist_log, single=single)


def test_two_ranks_train_the_same_weights_at_the_same_scale(runs):
    root = runs['root']
    ranks = [read_record(root / 'dist', 'dist', r) for r in (0, 1)]
    log = runs['dist_log']
    assert 'Distributed launcher: pytorch' in log
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    for rank in ranks:
        assert [it['iter'] for it in rank['iters']] == list(
            range(1, ITERS + 1))
        assert rank['final_iter'] == ITERS
    for a, b, shape in zip(ranks[0]['iters'], ranks[1]['iters'], SHAPES):
        # same step: same scale, input size, learning rate ...
        assert a['scale'] == b['scale']
        assert a['input_shape'] == b['input_shape'] == [1, 3, *shape]
        assert a['lr'] == b['lr']
        # ... different images ...
        assert a['files'] != b['files']
        # ... and bitwise the same weights after every step
        assert a['param_hash'] == b['param_hash']
    assert ranks[0]['param_hash'] == ranks[1]['param_hash']
    assert ranks[0]['buffer_hash'] == ranks[1]['buffer_hash']
    # the checkpoint (written by rank 0 only) holds those weights
    ckpt = torch.load(root / 'dist' / f'iter_{ITERS}.pth', weights_only=True)
    assert ckpt['meta']['iter'] == ITERS
    assert 'decode_head.transfers.0.conv.weight' in ckpt['state_dict']


def test_two_ranks_compute_what_one_process_does_with_the_whole_batch(runs):
    """Each rank's loss is the mean over its own images (mmseg's
    reduction, the label-relaxation loss like cross-entropy) and DDP
    averages the gradients: the global loss is the mean of the ranks'
    losses and the weights follow those of one process with both images in
    its batch."""
    root = runs['root']
    ranks = [read_record(root / 'dist', 'dist', r) for r in (0, 1)]
    single = read_record(root / 'single', 'single')
    for a, b, one, shape in zip(ranks[0]['iters'], ranks[1]['iters'],
                                single['iters'], SHAPES):
        assert one['files'] == a['files'] + b['files']
        assert one['input_shape'] == [2, 3, *shape]
        assert one['scale'] == a['scale'] and one['lr'] == a['lr']
        assert set(one['losses']) == {'loss', 'decode.loss_lr'}
        for name in one['losses']:
            mean = (a['losses'][name] + b['losses'][name]) / 2
            assert one['losses'][name] == pytest.approx(mean, rel=1e-5)
    dist = torch.load(root / 'dist' / f'iter_{ITERS}.pth',
                      weights_only=True)['state_dict']
    one = torch.load(root / 'single' / f'iter_{ITERS}.pth',
                     weights_only=True)['state_dict']
    assert dist.keys() == one.keys()
    for key in dist:
        torch.testing.assert_close(dist[key], one[key], rtol=1e-4,
                                   atol=1e-5, msg=key)


def test_nan_loss_on_one_rank_stops_both_ranks_at_that_iteration(
        demo_data_root, tmp_path):
    """Two real gloo processes (``tools/train.py --launcher pytorch``, as
    torchrun starts them): rank 1's classifier turns NaN before iteration
    2, so only rank 1's loss of iteration 2 is NaN. NonFiniteLossHook's
    all-reduce shows it to rank 0 too: both processes stop at iteration 2
    with the same named error (no hang, no other error such as a peer that
    went away), before iteration 2's checkpoint (which rank 0 would write
    with the NaN-averaged weights) or record."""
    cfg = write_config(
        tmp_path / 'nan.py',
        demo_data_root,
        max_iters=3,
        batch_size=1,
        checkpoint_interval=2,
        pipeline=FIXED_PIPELINE,
        extra_hooks=[dict(type='PoisonHook', at_iter=2, rank=1)])
    work = tmp_path / 'work'
    port = str(free_port())
    procs = []
    try:
        for rank in (0, 1):
            env = tool_env('nan')
            env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2',
                       MASTER_ADDR='127.0.0.1', MASTER_PORT=port)
            with open(tmp_path / f'rank{rank}.log', 'w') as log:
                procs.append(subprocess.Popen(
                    train_cmd(cfg, work, '--launcher', 'pytorch'),
                    cwd=REPO_ROOT, env=env, stdout=log,
                    stderr=subprocess.STDOUT, start_new_session=True))
        for proc in procs:  # a few tens of seconds expected
            proc.wait(timeout=400)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    # tools/train.py's one-line report of the error, last in each log
    expected = ('error: FloatingPointError: Non-finite loss at iteration 2 '
                '(epoch 0): loss=nan on rank 1, decode.loss_lr=nan on rank '
                '1. Training stopped before this iteration was saved, logged '
                'or scheduled. No checkpoint had been written yet.')
    for rank, proc in enumerate(procs):
        log = (tmp_path / f'rank{rank}.log').read_text()
        assert proc.returncode == 1, (rank, log[-4000:])
        errors = [line for line in log.splitlines()
                  if 'error' in line.lower() and 'Warning' not in line
                  and 'Build settings' not in line]
        assert len(errors) == 1 and errors[0].startswith(expected), (
            rank, log[-4000:])
        assert log.strip().splitlines()[-1] == errors[0]
        assert 'on rank 0' not in errors[0]  # rank 0's own loss: finite
        # iteration 1 trained on both ranks, iteration 2 recorded on none
        record = read_record(work, 'nan', rank)
        assert [it['iter'] for it in record['iters']] == [1]
        assert all(v == v for v in record['iters'][0]['losses'].values())
    assert not list(work.glob('*.pth'))


CPU_DIST_CHECK = """
import torch
from mmengine.dist import get_world_size, init_dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS
from rgpnet_mmseg.compat.mmengine import CPU_DDP_WRAPPER, cpu_distributed
set_device = torch.cuda.set_device
with cpu_distributed():
    init_dist('pytorch', backend='gloo')
assert torch.cuda.set_device is set_device and get_world_size() == 1
# what Runner.wrap_model does with model_wrapper_cfg
ddp = MODEL_WRAPPERS.build(CPU_DDP_WRAPPER, default_args=dict(
    module=torch.nn.Linear(2, 2), device_ids=[0]))
assert isinstance(ddp, MMDistributedDataParallel) and ddp.device_ids is None
torch.distributed.destroy_process_group()
"""


@pytest.mark.skipif(torch.cuda.is_available(), reason='for CPU machines')
def test_cpu_distributed_starts_a_gloo_run_without_cuda():
    """rgpnet_mmseg.compat.mmengine: mmengine 0.10.7's ``init_dist`` calls
    ``torch.cuda.set_device`` and ``Runner.wrap_model`` gives DDP device
    ids; within ``cpu_distributed()`` and with ``CPU_DDP_WRAPPER`` a gloo
    run starts on a CPU, and ``set_device`` is restored afterwards."""
    env = tool_env()
    env.update(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
               MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()))
    proc = subprocess.run([sys.executable, '-c', CPU_DIST_CHECK],
                          cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, output(proc)


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_loss_reduction_per_rank_is_that_of_cross_entropy(avg_non_ignore):
    """What DDP optimises is the mean of the ranks' losses. For the
    label-relaxation loss, as for mmseg's CrossEntropyLoss, that is the
    loss of the whole batch when every rank has as many pixels
    (``avg_non_ignore=False``, the default: fixed crops), and with
    ``avg_non_ignore=True`` both are off by the same reweighting of the
    ranks by their non-ignored pixels. Gradients likewise."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 6, 10, 14, generator=g)
    coarse = torch.randint(0, 6, (4, 1, 5, 7), generator=g)
    label = torch.nn.functional.interpolate(
        coarse.float(), scale_factor=2).long()[:, 0]
    label[0, :3] = 255  # ranks hold different numbers of ignored pixels
    label[3] = 255
    label[3, 5:, 7:] = 2
    shards = [slice(0, 2), slice(2, 4)]  # rank 0, rank 1
    for loss_fn in (CrossEntropyLoss(avg_non_ignore=avg_non_ignore),
                    LabelRelaxationLoss(avg_non_ignore=avg_non_ignore)):
        x = logits.clone().requires_grad_()
        whole = loss_fn(x, label, ignore_index=255)
        (grad_whole, ) = torch.autograd.grad(whole, x)
        x = logits.clone().requires_grad_()
        per_rank = [loss_fn(x[s], label[s], ignore_index=255) for s in shards]
        ddp = sum(per_rank) / len(per_rank)
        (grad_ddp, ) = torch.autograd.grad(ddp, x)
        if not avg_non_ignore:
            torch.testing.assert_close(ddp, whole)
            torch.testing.assert_close(grad_ddp, grad_whole)
        else:
            valid = [(label[s] != 255).sum() for s in shards]
            reweighted = sum(
                loss * n for loss, n in zip(per_rank, valid)) / sum(valid)
            torch.testing.assert_close(reweighted, whole)
            assert not torch.allclose(ddp, whole)


def fake_srun(tmp_path: Path) -> dict:
    """A ``srun`` on PATH that writes its arguments and environment."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    script = bin_dir / 'srun'
    script.write_text('#!/usr/bin/env bash\n'
                      f'{sys.executable} -c "import json, os, sys; json.dump('
                      "dict(argv=sys.argv[1:], port=os.environ.get("
                      "'MASTER_PORT'), pythonpath=os.environ.get("
                      "'PYTHONPATH')), open(os.environ['SRUN_OUT'], 'w'))"
                      '" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, SRUN_OUT=str(tmp_path / 'srun.json'))
    env['PATH'] = f'{bin_dir}{os.pathsep}{env["PATH"]}'
    return env


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_slurm_scripts_launch_one_task_per_gpu(tool, tmp_path):
    env = fake_srun(tmp_path)
    env.update(GPUS='4', GPUS_PER_NODE='2', PORT='29877',
               SRUN_ARGS='--time=1:00:00 --qos=high')
    args = ['cfg with space.py'] + (['ckpt.pth'] if tool == 'test' else [])
    proc = subprocess.run(
        [
            'bash',
            str(REPO_ROOT / 'tools' / f'slurm_{tool}.sh'), 'gpu', 'rgp',
            *args, '--cfg-options', 'a=1 2'
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60)
    assert proc.returncode == 0, proc.stderr
    call = json.loads((tmp_path / 'srun.json').read_text())
    argv = call['argv']
    i = argv.index('-u')
    assert argv[:i - 1] == [
        '-p', 'gpu', '--job-name=rgp', '--gres=gpu:2', '--ntasks=4',
        '--ntasks-per-node=2', '--cpus-per-task=5', '--kill-on-bad-exit=1',
        '--time=1:00:00', '--qos=high'
    ]
    assert argv[i + 1:] == [
        str(REPO_ROOT / 'tools' / f'{tool}.py'), *args, '--launcher',
        'slurm', '--cfg-options', 'a=1 2'
    ]
    assert call['port'] == '29877'
    assert call['pythonpath'].split(os.pathsep)[0] == str(
        REPO_ROOT / 'tools' / '..')


def test_slurm_script_defaults_to_the_papers_two_gpus(tmp_path):
    env = fake_srun(tmp_path)
    for key in ('GPUS', 'GPUS_PER_NODE', 'PORT', 'MASTER_PORT',
                'SRUN_ARGS'):
        env.pop(key, None)
    proc = subprocess.run(
        ['bash', str(REPO_ROOT / 'tools' / 'slurm_train.sh'), 'p', 'j',
         'c.py'],
        env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    call = json.loads((tmp_path / 'srun.json').read_text())
    assert {'--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2'} <= set(
        call['argv'])
    assert call['port'] == '29500'
    proc = subprocess.run(
        ['bash', str(REPO_ROOT / 'tools' / 'slurm_train.sh'), 'p'],
        env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and 'usage:' in proc.stderr
