# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""A checkpoint that does not fit its config: one line and a non-zero exit
from every entry point, judged as mmengine's ``load_checkpoint(...,
strict=True)`` judges it; ``load_from`` fine-tuning across class counts
still trains, with one summary line (``LoadSummaryHook``).

The checkpoints come from real training (2 iterations of mmengine's Runner
on the demo data): the R18 demo config, and the same with 11 classes (the
first 11 Cityscapes classes; the rest ignored): a classifier-only mismatch.
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from rgpnet_mmseg.utils.checkpoint import (CheckpointError,
                                           CheckpointMismatchError,
                                           check_checkpoint_fits)
from .conftest import CONFIG_DIR, REPO_ROOT
from .run_helpers import shrink_for_quick_run, tool_env

pytestmark = pytest.mark.usefixtures('one_torch_thread')

DEMO_CFG = CONFIG_DIR / 'rgpnet_r18_demo.py'
R101_CAMVID = (CONFIG_DIR / 'rgpnet' /
               'rgpnet_r101-d32_2xb6-80k_camvid-352x480.py')
R18_MAPILLARY_PRE = (CONFIG_DIR / 'rgpnet' /
                     'rgpnet_r18-d32-mapillary-pre_2xb6-80k_cityscapes-'
                     '1024x1024.py')
DEPLOY_CFG = CONFIG_DIR / 'deploy' / 'segmentation_onnxruntime_dynamic.py'
SUMMARY = re.compile(r"load_from \S+: \d+ of the model's \d+ tensors loaded")


def quick_cfg(cfg_file: Path, data_root: Path, work_dir: Path, name: str,
              max_iters: int = 2) -> Config:
    from rgpnet_mmseg.utils.cpu_config import without_syncbn_and_pretrained
    cfg = Config.fromfile(str(cfg_file))
    without_syncbn_and_pretrained(cfg.model)
    shrink_for_quick_run(cfg, data_root, work_dir, crop=(64, 128),
                         max_iters=max_iters, name=name)
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.log_level = 'INFO'
    return cfg


@pytest.fixture(scope='module')
def checkpoints(demo_data_root, tmp_path_factory) -> dict:
    """``r18``: the demo config; ``c11``: the same with 11 classes;
    ``truncated``: the first half of ``r18``."""
    from mmseg.datasets import CityscapesDataset
    out = {}
    for name, classes in (('r18', None), ('c11', 11)):
        work_dir = tmp_path_factory.mktemp(f'fit_{name}')
        cfg = quick_cfg(DEMO_CFG, demo_data_root, work_dir, f'fit_{name}')
        if classes:
            meta = CityscapesDataset.METAINFO
            cfg.train_dataloader.dataset.metainfo = dict(
                classes=meta['classes'][:classes],
                palette=meta['palette'][:classes])
            cfg.model.decode_head.num_classes = classes
        Runner.from_cfg(cfg).train()
        out[name] = work_dir / 'iter_2.pth'
    out['truncated'] = out['r18'].parent / 'truncated.pth'
    data = out['r18'].read_bytes()
    out['truncated'].write_bytes(data[:len(data) // 2])
    return out


def mmengine_verdict(cfg_file: Path, state: dict) -> tuple:
    """(missing, unexpected, other-shape names) as mmengine's strict
    ``load_checkpoint`` reports them for a CPU build of ``cfg_file``; all
    empty when it loads."""
    import mmseg.models  # noqa: F401
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    from mmseg.registry import MODELS

    from rgpnet_mmseg.utils.cpu_config import without_syncbn_and_pretrained
    cfg = Config.fromfile(str(cfg_file))
    model = MODELS.build(without_syncbn_and_pretrained(cfg.model))
    try:
        _load_checkpoint_to_model(model, state, strict=True)
    except RuntimeError as err:
        msg = str(err)
        lists = {k: re.search(rf'{k} in source state_dict: (.*)', msg)
                 for k in ('missing keys', 'unexpected key')}
        return tuple([m.group(1).split(', ') if m else [] for m in
                      lists.values()] +
                     [re.findall(r'size mismatch for (\S+):', msg)])
    return [], [], []


def run_tool(name: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / f'{name}.py'),
         *map(str, args)], cwd=REPO_ROOT, env=tool_env(), capture_output=True,
        text=True, timeout=600)


def one_line(proc, code: int) -> str:
    """The single stderr line of a run that exited with ``code``."""
    assert proc.returncode == code, proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-3000:]
    return lines[0]


def tool_args(tool: str, cfg: Path, ckpt: Path, out: Path,
              data_root: Path) -> list:
    img = next((data_root / 'leftImg8bit' / 'val').rglob('*.png'))
    return {
        'test': [cfg, ckpt, '--work-dir', out],
        'infer': [cfg, ckpt, img, '--out', out],
        'make_figure': [cfg, ckpt, '--out', out / 'fig.png', '--data-root',
                        data_root],
        'deploy': [DEPLOY_CFG, cfg, ckpt, img, '--work-dir', out],
    }[tool]


MISMATCH_EXIT = {'test': 3, 'infer': 2, 'make_figure': 2, 'deploy': 3}


@pytest.mark.parametrize('tool, ckpt, cfg', [
    ('test', 'c11', DEMO_CFG), ('infer', 'c11', DEMO_CFG),
    ('make_figure', 'c11', DEMO_CFG), ('deploy', 'c11', DEMO_CFG),
    ('infer', 'r18', R101_CAMVID), ('test', 'r18', R101_CAMVID)])
def test_tools_refuse_a_checkpoint_that_does_not_fit(
        tool, ckpt, cfg, checkpoints, demo_data_root, tmp_path):
    """One line naming the checkpoint, the config, mmengine's strict counts
    and what the checkpoint is; nothing written."""
    ckpt = checkpoints[ckpt]
    saved = torch.load(ckpt, weights_only=True)
    missing, unexpected, shape = mmengine_verdict(cfg, saved)
    assert shape  # both cases: another classifier, another model
    out = tmp_path / 'out'
    args = tool_args(tool, cfg, ckpt, out, demo_data_root)
    line = one_line(run_tool(tool, *args), MISMATCH_EXIT[tool])
    assert f'Checkpoint {ckpt} does not fit config {cfg}' in line
    assert (f'{len(missing)} tensors missing, {len(unexpected)} unexpected, '
            f'{len(shape)} of another shape') in line
    assert re.search(r'first of another shape: (\S+),', line)[1] in shape
    if missing:
        assert re.search(r'first missing: (\S+);', line)[1] in missing
    meta = saved['meta']
    classes = meta['dataset_meta']['classes']
    assert f"experiment {meta['experiment_name']!r} with {len(classes)} " \
        f'classes ({", ".join(classes[:5])}, ...)' in line
    num_classes = Config.fromfile(str(cfg)).model.decode_head.num_classes
    assert f'the config has {num_classes} classes' in line
    assert not out.exists()


@pytest.mark.parametrize('tool, code', [('test', 1), ('infer', 2),
                                        ('deploy', 1)])
def test_tools_name_a_truncated_checkpoint(tool, code, checkpoints,
                                           demo_data_root, tmp_path):
    ckpt = checkpoints['truncated']
    args = tool_args(tool, DEMO_CFG, ckpt, tmp_path / 'out', demo_data_root)
    line = one_line(run_tool(tool, *args), code)
    assert f'Cannot read checkpoint {ckpt}: the file is truncated or ' \
        'corrupted' in line
    assert not (tmp_path / 'out').exists()


def _variants(state: dict) -> dict:
    def drop(pred):
        return {k: v for k, v in state.items() if not pred(k)}
    first = next(iter(state))
    return {
        'as saved': state,
        'module. prefix (DDP)': {f'module.{k}': v for k, v in state.items()},
        'no num_batches_tracked': drop(lambda k: 'num_batches_tracked' in k),
        'one tensor missing': drop(lambda k: k == first),
        'one unexpected': dict(state, **{'extra.weight': torch.ones(1)}),
        'classifier of 11': dict(state, **{
            'decode_head.conv_seg.weight': torch.zeros(11, 64, 1, 1)}),
    }


def test_the_check_is_mmengines_strict_rule(checkpoints, tmp_path):
    """Each variant of a real checkpoint passes the check iff mmengine's
    strict loading takes it, with mmengine's counts."""
    saved = torch.load(checkpoints['r18'], weights_only=True)
    for name, state in _variants(saved['state_dict']).items():
        path = tmp_path / 'variant.pth'
        torch.save(dict(saved, state_dict=state), path)
        missing, unexpected, shape = mmengine_verdict(DEMO_CFG, {
            'state_dict': state})
        if not (missing or unexpected or shape):
            assert check_checkpoint_fits(str(DEMO_CFG), str(path)) is None
            continue
        with pytest.raises(CheckpointMismatchError) as err:
            check_checkpoint_fits(str(DEMO_CFG), str(path))
        assert (f'{len(missing)} tensors missing, {len(unexpected)} '
                f'unexpected, {len(shape)} of another shape') in str(err.value)


def test_the_check_names_a_missing_or_unsafe_file(tmp_path):
    import os
    marker = tmp_path / 'pwned'

    class Payload:

        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    torch.save({'state_dict': {}, 'x': Payload()}, tmp_path / 'evil.pth')
    with pytest.raises(CheckpointError, match='Refusing to load checkpoint '
                       f'{tmp_path / "evil.pth"}: .*posix.system'):
        check_checkpoint_fits(str(DEMO_CFG), str(tmp_path / 'evil.pth'))
    assert not marker.exists()
    with pytest.raises(CheckpointError, match='Checkpoint file not found: '):
        check_checkpoint_fits(str(DEMO_CFG), str(tmp_path / 'none.pth'))


def test_mmengine_reads_its_checkpoint_with_the_allow_list_only(checkpoints):
    """No loader of ours is registered: mmengine's own local loader reads
    a Runner's checkpoint (HistoryBuffers of the MessageHub, numpy meta)
    through torch's weights-only load and the allow-list."""
    from mmengine.runner.checkpoint import CheckpointLoader, load_from_local
    assert CheckpointLoader._schemes[''] is load_from_local
    ckpt = CheckpointLoader.load_checkpoint(str(checkpoints['r18']), 'cpu')
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() > 0


# --------------------------------------------------------------------------
# load_from fine-tuning: LoadSummaryHook
# --------------------------------------------------------------------------
def _loaded_state(cfg: Config, ckpt: Path, capfd) -> tuple:
    """(state dict, printed output) after the Runner's ``load_from``."""
    cfg.load_from = str(ckpt)
    runner = Runner.from_cfg(cfg)
    capfd.readouterr()
    runner.load_or_resume()
    return runner.model.state_dict(), ''.join(capfd.readouterr())


def test_summary_hook_loads_what_mmengine_loads_in_one_line(
        checkpoints, demo_data_root, tmp_path, capfd):
    """The 11-class checkpoint into the 19-class demo model: the weights
    are mmengine's own non-strict load's, its size-mismatch lines become
    one summary line."""
    states, logs = {}, {}
    for hook in (False, True):
        cfg = quick_cfg(DEMO_CFG, demo_data_root, tmp_path / f'h{hook}',
                        f'summary_{hook}_{tmp_path.name}')
        if hook:
            cfg.custom_hooks.append(dict(type='LoadSummaryHook'))
        states[hook], logs[hook] = _loaded_state(cfg, checkpoints['c11'],
                                                 capfd)
    assert states[True].keys() == states[False].keys()
    for name, value in states[True].items():
        assert torch.equal(value, states[False][name]), name
    assert logs[False].count('size mismatch for') == 2
    assert 'size mismatch' not in logs[True]
    assert len(SUMMARY.findall(logs[True])) == 1
    assert ("224 of the model's 226 tensors loaded; left at their "
            'initialisation: 2 of another shape in it (decode_head.conv_seg.'
            'weight, decode_head.conv_seg.bias)') in logs[True]


def test_mapillary_pre_config_fine_tunes_across_class_counts(
        checkpoints, demo_data_root, tmp_path, capfd):
    """The R18 ``mapillary-pre`` config (its own custom_hooks), on the demo
    data from the 11-class checkpoint: it trains, logging one line."""
    cfg = quick_cfg(R18_MAPILLARY_PRE, demo_data_root, tmp_path, 'mp_ft')
    assert dict(type='LoadSummaryHook') in cfg.custom_hooks
    cfg.load_from = str(checkpoints['c11'])
    Runner.from_cfg(cfg).train()
    out = ''.join(capfd.readouterr())
    assert len(SUMMARY.findall(out)) == 1 and 'size mismatch' not in out
    trained = torch.load(tmp_path / 'iter_2.pth', weights_only=True)
    assert trained['state_dict']['decode_head.conv_seg.weight'].shape[0] == 19


def test_summary_hook_refuses_a_backbone_only_file(checkpoints,
                                                   demo_data_root, tmp_path):
    """A backbone file (ImageNet-style keys, no ``backbone.`` prefix) as
    ``load_from``: not one backbone tensor loads, so training stops."""
    saved = torch.load(checkpoints['r18'], weights_only=True)['state_dict']
    path = tmp_path / 'resnet18.pth'
    torch.save({k[len('backbone.'):]: v for k, v in saved.items()
                if k.startswith('backbone.')}, path)
    cfg = quick_cfg(DEMO_CFG, demo_data_root, tmp_path / 'w', 'bb_only')
    cfg.custom_hooks.append(dict(type='LoadSummaryHook'))
    cfg.load_from = str(path)
    with pytest.raises(CheckpointMismatchError,
                       match=f'load_from {path}: not one of the model\'s '
                       r'\d+ backbone tensors loads .*backbone.init_cfg'):
        Runner.from_cfg(cfg).train()
    assert not list((tmp_path / 'w').glob('*.pth'))
