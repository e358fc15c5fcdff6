# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Shared by the tests that run real trainings: small test configs on top
of the repository's configs (:func:`shrink_for_quick_run` in process, for
tests/test_mixing.py and tests/test_progressive_resize.py;
:func:`write_config` for tests/test_distributed.py and tests/test_faults.py),
and launching tools/ in fresh interpreters (with the repository root on
PYTHONPATH, so that the test config's ``custom_imports`` finds
``tests.reliability_hooks``)."""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from rgpnet_mmseg.compat.mmengine import CPU_DDP_WRAPPER
from .conftest import CONFIG_DIR, REPO_ROOT

PR_LR_DEMO_CFG = CONFIG_DIR / 'rgpnet_r18_pr-lr_demo.py'

# Our reliability modules are imported explicitly, so that the tests do not
# depend on the package's __init__ files importing them.
IMPORTS = [
    'rgpnet_mmseg',
    'rgpnet_mmseg.datasets.transforms',
    'rgpnet_mmseg.engine.hooks.non_finite_loss_hook',
    'rgpnet_mmseg.engine.hooks.label_check_hook',
    'tests.reliability_hooks',
]

CROP = (64, 128)  # (h, w): 1/2 of the demo images
FIXED_PIPELINE = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations'),
    dict(type='Resize', scale=(CROP[1], CROP[0]), keep_ratio=False),
    dict(type='PackSegInputs'),
]
RANDOM_PIPELINE = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(256, 128),
        ratio_range=(0.5, 1.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=CROP, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]


def shrink_for_quick_run(cfg, data_root: Path, work_dir: Path, *,
                         crop: Sequence[int], max_iters: int, name: str):
    """Shrink a loaded config, in place, to a quick run in this process:
    ``max_iters`` iterations of batch 2 on ``crop`` (h, w) inputs from
    ``data_root``, no dataloader workers, a one-image validation set,
    warnings only, every iteration logged. ``name`` keys mmengine's global
    instances (MessageHub, Visualizer, logger), so it must be new per run.
    """
    h, w = crop
    cfg.model.data_preprocessor.size = tuple(crop)
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.dataset.data_root = str(data_root)
        loader.num_workers = 0
        loader.persistent_workers = False
        for step in loader.dataset.pipeline:
            if step.type in ('RandomResize', 'Resize'):
                step.scale = (w, h)
            elif step.type == 'RandomCrop':
                step.crop_size = tuple(crop)
    cfg.train_dataloader.batch_size = 2
    cfg.val_dataloader.dataset.indices = 1
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    cfg.visualizer.name = name
    cfg.log_level = 'WARNING'
    cfg.train_cfg.max_iters = max_iters
    cfg.default_hooks.logger.interval = 1
    return cfg


def write_config(path: Path,
                 data_root: Path,
                 *,
                 max_iters: int,
                 batch_size: int,
                 checkpoint_interval: int,
                 max_keep_ckpts: int = 100,
                 stages: Sequence = ((0, 1.0), ),
                 pipeline: Sequence[dict] = RANDOM_PIPELINE,
                 extra_hooks: Sequence[dict] = (),
                 group_norm: bool = False,
                 sgd: bool = False,
                 base: Path = PR_LR_DEMO_CFG) -> Path:
    """Write a tiny training config on top of ``base`` (default: the
    progressive-resize + label-relaxation demo config).

    No validation; every rank records
    its iterations (``RecordHook``); the reliability hooks are listed
    explicitly (the base's ``custom_hooks`` list is replaced).

    Args:
        group_norm: GroupNorm instead of BN: per-sample normalisation, so a
            2-process run with batch 1 computes exactly what one process
            with batch 2 does (BN statistics would differ; SyncBN needs a
            GPU).
        sgd: SGD + poly instead of the demo's AdamW + warm-up (AdamW's
            first steps amplify float rounding differences between two runs
            that should be equal to ~lr).
    """
    hooks = [
        dict(type='NonFiniteLossHook'),
        dict(type='LabelCheckHook'),
        dict(
            type='ProgressiveResizeHook',
            by_epoch=False,
            stages=[list(s) for s in stages]),
        dict(type='RecordHook'),
        *extra_hooks,
    ]
    lines = [
        f'_base_ = [{str(base)!r}]',
        f'custom_imports = dict(imports={IMPORTS!r}, '
        'allow_failed_imports=False)',
        f'crop_size = {CROP!r}',
        'model = dict(data_preprocessor=dict(size=crop_size))',
        f'train_dataloader = dict(batch_size={batch_size}, num_workers=0, '
        'persistent_workers=False, '
        "sampler=dict(type='InfiniteSampler', shuffle=True, seed=0), "
        f'dataset=dict(data_root={str(data_root)!r}, '
        f'pipeline={list(pipeline)!r}))',
        'val_dataloader = None',
        'val_cfg = None',
        'val_evaluator = None',
        f'train_cfg = dict(max_iters={max_iters}, val_interval={max_iters})',
        'default_hooks = dict(logger=dict(interval=1), checkpoint=dict('
        f'interval={checkpoint_interval}, max_keep_ckpts={max_keep_ckpts}))',
        f'custom_hooks = {hooks!r}',
        # distributed on a CPU: gloo, and rgpnet_mmseg.compat.mmengine's
        # scoped set-up (the runner) and DDP wrapper settings
        "env_cfg = dict(dist_cfg=dict(backend='gloo'))",
        "runner_type = 'CPUDistributedRunner'",
        f'model_wrapper_cfg = {CPU_DDP_WRAPPER!r}',
        'randomness = dict(seed=0)',
    ]
    if group_norm:
        lines += [
            "norm_cfg = dict(type='GN', num_groups=16, requires_grad=True)",
            'model = dict(data_preprocessor=dict(size=crop_size), '
            'backbone=dict(norm_cfg=norm_cfg), '
            'decode_head=dict(norm_cfg=norm_cfg))',
        ]
    if sgd:
        lines += [
            "optim_wrapper = dict(_delete_=True, type='OptimWrapper', "
            "optimizer=dict(type='SGD', lr=0.01, momentum=0.9, "
            'weight_decay=0.0001))',
            "param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, "
            f'begin=0, end={2 * max_iters}, by_epoch=False)]',
        ]
    path.write_text('\n'.join(lines) + '\n')
    return path


def tool_env(tag: str = 'run', threads: Optional[int] = 1) -> Dict:
    """Environment of a tool run: the repository on PYTHONPATH, the record
    tag, and one OpenMP thread by default (on a shared 2-core machine one
    thread per process is several times faster than two)."""
    env = dict(os.environ, PYTHONUNBUFFERED='1', RGPNET_RECORD_TAG=tag)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(REPO_ROOT)] + ([env['PYTHONPATH']] if env.get('PYTHONPATH')
                            else []))
    if threads is not None:
        env['OMP_NUM_THREADS'] = str(threads)
    return env


def train_cmd(config: Path, work_dir: Path, *args) -> List[str]:
    return [
        sys.executable,
        str(REPO_ROOT / 'tools' / 'train.py'),
        str(config), '--work-dir',
        str(work_dir), *map(str, args)
    ]


def run_train(config: Path, work_dir: Path, *args, tag: str = 'run',
              threads: Optional[int] = 1, timeout: int = 600):
    """Run tools/train.py to its end; returns the CompletedProcess."""
    return subprocess.run(
        train_cmd(config, work_dir, *args),
        cwd=REPO_ROOT,
        env=tool_env(tag, threads),
        capture_output=True,
        text=True,
        timeout=timeout)


def train_in_process(config: Path, work_dir: Path, **options):
    """Build an mmengine Runner from ``config`` in this process (as
    tools/train.py does, without its interpreter start-up) and train."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'{Path(work_dir).name}_{os.getpid()}'
    cfg.merge_from_dict(options)
    runner = Runner.from_cfg(cfg)
    return runner.train()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def read_record(work_dir: Path, tag: str = 'run', rank: int = 0) -> dict:
    return json.loads(
        (Path(work_dir) / f'record_{tag}_rank{rank}.json').read_text())


def output(proc) -> str:
    return (proc.stdout or '') + (proc.stderr or '')


def mini_data_root(dest: Path, source: Path, n_train: int = 2) -> Path:
    """A copy of the first ``n_train`` training samples of the demo data
    (Cityscapes layout), to break on purpose."""
    for kind, suffix in (('leftImg8bit', '_leftImg8bit.png'),
                         ('gtFine', '_gtFine_labelTrainIds.png')):
        files = sorted((source / kind / 'train').rglob(f'*{suffix}'))
        for file in files[:n_train]:
            target = dest / kind / 'train' / file.parent.name / file.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
        for split in ('val', 'test'):
            (dest / kind / split).mkdir(parents=True, exist_ok=True)
    return dest
