# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""``tools/benchmark.py heads`` (rgpnet_mmseg.benchmark.heads): ``--quick``
end to end into a temporary folder (tables, plot, JSON, real trainings,
resume), the head's parameters and MACs against independent counts, the
seed statistics, and the BiSeNetV2 mixing configs (mmseg's model as
shipped / with our label relaxation and progressive resizing) in a real
mmengine Runner. No timing assertions."""
import argparse
import importlib.util
import json
import math
import os.path as osp
import re
from pathlib import Path

import mmseg
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import rgpnet_mmseg.benchmark as bench
from mmseg.registry import MODELS
from rgpnet_mmseg.benchmark import heads
from rgpnet_mmseg.benchmark.report import BEGIN, END
from .conftest import CONFIG_DIR
from .run_helpers import shrink_for_quick_run

HEADS_DIR = CONFIG_DIR / 'heads'
SUFFIX = '_r18-d32_1xb4-400it_demo-128x256.py'
QUICK_CFGS = [HEADS_DIR / f'{name}{SUFFIX}' for name in ('fcn', 'rgpnet')]
SHIPPED, OURS = (CONFIG_DIR / 'mixing' / f'bisenetv2_fcn_{v}demo.py'
                 for v in ('', 'lr-pr_'))
NUMBER = r'\d+\.\d+'
needs_ort = pytest.mark.skipif(
    importlib.util.find_spec('onnxruntime') is None,
    reason='onnxruntime is not installed')


def test_configs_default_and_missing(capsys):
    found = heads.head_configs(None)
    assert found == sorted(str(p) for p in HEADS_DIR.glob('*.py'))
    assert len(found) >= 10 and not any('_base_' in p for p in found)
    assert bench.main(['heads', '--configs', 'configs/heads/nope.py']) == 1
    assert capsys.readouterr().err.strip().endswith(
        'error: config not found: configs/heads/nope.py')


def test_seed_stats_mean_and_sample_std():
    runs = [dict(seed=s, mIoU=m, s_per_iter=t)
            for s, m, t in ((0, 50.0, 0.5), (1, 53.0, 0.7), (2, 56.5, 0.6))]
    stats = heads.seed_stats(runs + [None])  # a failed run is left out
    assert stats['seeds'] == [0, 1, 2]
    assert stats['mIoU_per_seed'] == [50.0, 53.0, 56.5]
    assert stats['mIoU_mean'] == pytest.approx(53.166666, abs=1e-5)
    # sample std over the three seeds' mIoU: sqrt(sum(d^2) / (n - 1))
    d2 = sum((m - 53.1666667)**2 for m in (50.0, 53.0, 56.5))
    assert stats['mIoU_std'] == pytest.approx(math.sqrt(d2 / 2), abs=1e-5)
    assert stats['s_per_iter'] == pytest.approx(0.6)
    one = heads.seed_stats(runs[:1])
    assert one['mIoU_mean'] == 50.0 and one['mIoU_std'] is None


def independent_counts(path, shape):
    """(head params, model params without auxiliary heads, head MACs):
    ``numel`` of the parameters, and the MACs of every conv (output
    elements x input channels per group x kernel) and eval BN (2 per
    element, as mmengine counts them) of the head, from forward hooks."""
    cfg = Config.fromfile(str(path))
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model).eval()
    macs = []

    def hook(m, _, out):
        if isinstance(m, torch.nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            macs.append(out.numel() * m.in_channels // m.groups * k)
        elif isinstance(m, torch.nn.BatchNorm2d):
            macs.append(2 * out.numel())

    for m in model.decode_head.modules():
        m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.randn(1, 3, *shape), mode='tensor')
    aux = sum(p.numel() for p in model.auxiliary_head.parameters()) \
        if model.with_auxiliary_head else 0
    return (sum(p.numel() for p in model.decode_head.parameters()),
            sum(p.numel() for p in model.parameters()) - aux, sum(macs))


def table_rows(text, header):
    """The cells of the rows of the markdown table under ``header``."""
    lines = text[text.index(f'| {header}'):].split('\n\n')[0].splitlines()
    assert all(line.startswith('| ') for line in lines), lines
    return [[c.strip() for c in line.strip('|').split('|')]
            for line in lines[2:]]


def last_val(run_dir):
    """The last validation scalars of a run, read from mmengine's log."""
    files = sorted(run_dir.glob('*/vis_data/scalars.json'))
    lines = [json.loads(s) for s in files[-1].read_text().splitlines()]
    return [s for s in lines if 'mIoU' in s][-1]


@needs_ort
def test_quick_end_to_end_and_resume(demo_data_root, tmp_path, capsys):
    work, md, png, js = (tmp_path / 'work', tmp_path / 'heads.md',
                         tmp_path / 'heads.png', tmp_path / 'heads.json')
    md.write_text(f'# Heads\n\nprose\n\n{BEGIN}\nstale table\n{END}\ntail\n')
    argv = ['heads', '--quick', '--threads', '1', '--repeats', '1',
            '--warmup', '0', '--configs', *map(str, QUICK_CFGS),
            '--work-dir', str(work), '--out-md', str(md), '--out-plot',
            str(png), '--out-json', str(js)]
    assert bench.main(argv) == 0
    assert 'trainings: 0 of 2 done before, 2 to run' in \
        capsys.readouterr().err
    result = json.loads(js.read_text())
    assert result['seeds'] == [0] and result['shape'] == heads.QUICK_SHAPE
    text = md.read_text()  # the prose around the markers is kept
    assert text.startswith('# Heads\n\nprose\n\n' + BEGIN)
    assert text.endswith(f'|\n\n{END}\ntail\n')
    assert 'stale' not in text and '**Placeholder, a `--quick` run' in text
    rows = table_rows(text, 'head |')
    assert [r[:2] for r in rows] == [['FCNHead', f'`{QUICK_CFGS[0].stem}`'],
                                     ['RGPHead', f'`{QUICK_CFGS[1].stem}`']]
    for r in rows:
        assert re.fullmatch(f'{NUMBER} / {NUMBER}', r[2]), r
        assert re.fullmatch(f'{NUMBER} / {NUMBER}', r[3]), r
        assert all(re.fullmatch(NUMBER, c) for c in r[4:6] + r[7:9]), r
        assert re.fullmatch(f'{NUMBER} ± -', r[6]), r
    for r, path in zip(result['rows'], QUICK_CFGS):
        val = last_val(work / 'quick' / path.stem / 'seed0')
        assert val['step'] == heads.QUICK_ITERS
        assert r['seeds'] == [0] and r['mIoU_per_seed'] == [val['mIoU']]
        assert r['mIoU_mean'] == val['mIoU'] and r['mIoU_std'] is None
        assert r['eager_ms'] > 0 and r['ort_ms'] > 0
        head, total, macs = independent_counts(path, heads.QUICK_SHAPE)
        assert r['head_only']['params'] == head < r['model']['params']
        assert r['model']['params'] == total
        if r['head'] == 'FCNHead':  # convs and BN only: all counted
            assert r['head_only']['macs'] == macs
    assert png.read_bytes()[:4] == b'\x89PNG'

    # again, with the mixing pair: the head runs are reused, not retrained
    results = sorted(work.rglob('result.json'))
    mtimes = [p.stat().st_mtime_ns for p in results]
    assert len(results) == 2
    assert bench.main(argv + ['--mixing']) == 0
    assert 'trainings: 2 of 4 done before, 2 to run' in \
        capsys.readouterr().err
    assert [p.stat().st_mtime_ns for p in results] == mtimes
    again = json.loads(js.read_text())
    assert [r['mIoU_per_seed'] for r in again['rows']] == \
        [r['mIoU_per_seed'] for r in result['rows']]
    assert [m['config'] for m in again['mixing']] == [
        f'configs/mixing/{p.name}' for p in (SHIPPED, OURS)]
    mixing = table_rows(md.read_text(), 'config | mIoU')
    assert [r[0] for r in mixing] == [f'`configs/mixing/{p.name}`'
                                      for p in (SHIPPED, OURS)]
    for r, m in zip(mixing, again['mixing']):
        val = last_val(work / 'quick' / Path(m['config']).stem / 'seed0')
        assert m['mIoU_per_seed'] == [val['mIoU']]
        assert re.fullmatch(NUMBER, r[3]), r


def heads_of(model):
    """The decode head and the auxiliary heads of a model or its config."""
    return [model.decode_head] + list(model.auxiliary_head)


def test_bisenetv2_shipped_and_with_our_recipe(demo_data_root, tmp_path):
    """Both configs train 4 iterations in a Runner; only ours has label
    relaxation in every head and the resizing hook and preprocessor; its
    heads are mmseg's otherwise (checked against mmseg's model base)."""
    mmseg_model = Config.fromfile(osp.join(
        osp.dirname(mmseg.__file__), '.mim/configs/_base_/models/'
        'bisenetv2.py')).model
    shipped, ours = (Config.fromfile(str(p)) for p in (SHIPPED, OURS))
    for cfg in (shipped, ours):
        assert cfg.model.backbone == mmseg_model.backbone
        for a, b in zip(heads_of(mmseg_model), heads_of(cfg.model),
                        strict=True):
            assert {**a, 'loss_decode': 0} == {**b, 'loss_decode': 0}
            assert b.loss_decode == (
                a.loss_decode if cfg is shipped else
                dict(type='LabelRelaxationLoss', loss_weight=1.0,
                     loss_name='loss_lr'))
    for name, cfg in (('shipped', shipped), ('ours', ours)):
        cfg = shrink_for_quick_run(
            cfg, demo_data_root, tmp_path / name, crop=(64, 128),
            max_iters=4, name=f'test_benchmark_heads_{name}')
        cfg.default_hooks.checkpoint = None
        cfg.train_cfg.val_interval = 4
        runner = Runner.from_cfg(cfg)
        runner.train()
        assert runner.iter == 4
        model, is_ours = runner.model, name == 'ours'
        losses = [type(h.loss_decode).__name__ for h in heads_of(model)]
        assert losses == ['LabelRelaxationLoss' if is_ours else
                          'CrossEntropyLoss'] * 5
        hooks = [type(h).__name__ for h in runner.hooks]
        assert ('ProgressiveResizeHook' in hooks) == is_ours
        assert (type(model.data_preprocessor).__name__ ==
                'ProgressiveResizeDataPreProcessor') == is_ours
        logged = runner.message_hub.log_scalars
        for h in ['decode'] + [f'aux_{i}' for i in range(4)]:
            key = f'train/{h}.loss_{"lr" if is_ours else "ce"}'
            assert math.isfinite(logged[key].current()), key
        if is_ours:  # fractions 0.6 and 0.8 of 4 iterations: 2 and 3
            assert logged['train/scale'].data[0].tolist() == \
                [0.25, 0.25, 0.5, 1.0]


def test_mixing_runs_take_their_own_seeds(tmp_path):
    """``--mixing-seeds`` sets the seeds of the two BiSeNetV2 configs only;
    without it they take ``--seeds`` like every head."""
    head = heads.head_configs(None)[0]
    args = argparse.Namespace(seeds=[0, 1, 2], mixing_seeds=[0])
    runs = heads.plan([head] + heads.MIXING, args, str(tmp_path))
    assert [(p, s) for p, s, _ in runs] == [(head, 0), (head, 1), (head, 2),
                                            (heads.MIXING[0], 0),
                                            (heads.MIXING[1], 0)]
    name = osp.splitext(osp.basename(head))[0]
    assert runs[1][2] == osp.join(str(tmp_path), name, 'seed1')
    args.mixing_seeds = None
    assert len(heads.plan(heads.MIXING, args, str(tmp_path))) == 6
