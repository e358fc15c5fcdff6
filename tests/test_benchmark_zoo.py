# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""tools/benchmark_zoo.py end to end on tiny inputs, and the fast
inference path of rgpnet_mmseg/utils/fast_inference.py against eager.

No timing assertions: only that every row is there with finite figures
and that every faster path computes what eager computes.
"""
import copy
import importlib.util
import json
import math

import pytest
import torch
import torch.nn as nn

from .conftest import REPO_ROOT

pytest.importorskip('onnxruntime')


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_zoo', REPO_ROOT / 'tools' / 'benchmark_zoo.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bz = _load_tool()

from rgpnet_mmseg.utils.fast_inference import (  # noqa: E402
    check_parity, fold_bn_into_conv, fuse_conv_bn, optimize_for_inference)

X = (64, 128)


@pytest.fixture(scope='module')
def rgpnet_r18():
    torch.manual_seed(0)
    return bz.build_segmentor('rgpnet-r18')


def eager(model):
    return lambda t: model(t, mode='tensor')


def test_end_to_end_tiny(tmp_path):
    md, png, js = (tmp_path / 'zoo.md', tmp_path / 'zoo.png',
                   tmp_path / 'zoo.json')
    rc = bz.main([
        '--shape', *map(str, X), '--repeats', '1', '--warmup', '0',
        '--threads', '1', '--models', 'bisenetv1-r18', 'rgpnet-r18',
        '--fast-models', 'rgpnet-r18', '--fast-paths', 'fused',
        'channels-last', 'onnxruntime',
        '--train', '--train-shape', *map(str, X), '--train-iters', '1',
        '--work-dir', str(tmp_path / 'work'), '--out-md', str(md),
        '--out-plot', str(png), '--out-json', str(js)
    ])
    assert rc == 0
    result = json.loads(js.read_text())
    labels = [r['label'] for r in result['rows']]
    assert labels == [
        'BiSeNetV1-R18', 'RGPNet-R18', 'RGPNet-R18 fused BN',
        'RGPNet-R18 fused BN + channels-last',
        'RGPNet-R18 onnxruntime (CPU EP)'
    ]
    for row in result['rows']:
        for key in ('params', 'macs', 'latency_ms', 'fps', 'gflops_per_s',
                    'ceiling_fraction'):
            assert math.isfinite(row[key]) and row[key] > 0, (row['label'],
                                                               key)
        if row['kind'] != 'eager':
            assert row['parity']['ok'], row
    by_key = {r['key']: r for r in result['rows']}
    # the paper's 17.8 M parameters; mmseg's BiSeNetV1 without aux heads
    assert by_key['rgpnet-r18']['params'] == pytest.approx(17.76e6, rel=1e-3)
    for key in ('rgpnet-r18', 'bisenetv1-r18'):
        assert by_key[key]['train_its'] > 0
    assert result['ceiling']['best'] > 0
    assert set(result['ceiling']['gemm']) >= {'torch.mm (MKL)'}
    text = md.read_text()
    for label in labels:
        assert f'| {label} |' in text
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_complexity_is_mmengines(rgpnet_r18):
    """Our FLOP/parameter count is get_model_complexity_info's."""
    from mmengine.analysis import get_model_complexity_info
    x = torch.randn(1, 3, *X)
    ours = bz.complexity(rgpnet_r18, x)
    theirs = get_model_complexity_info(
        rgpnet_r18, inputs=(x, ), show_table=False, show_arch=False)
    assert ours['macs'] == theirs['flops']
    assert ours['params'] == theirs['params']


def test_unknown_model_is_refused():
    with pytest.raises(SystemExit):
        bz.parse_args(['--models', 'segformer'])


def test_fused_and_channels_last_match_eager(rgpnet_r18):
    x = torch.randn(1, 3, *X)
    for fast in (fuse_conv_bn(rgpnet_r18),
                 optimize_for_inference(rgpnet_r18)):
        p = check_parity(eager(rgpnet_r18), eager(fast), x)
        assert p['ok'] and p['argmax_agree'] == 1.0, p
    # nothing left to fold, the original is untouched
    fused = fuse_conv_bn(rgpnet_r18)
    assert not any(
        isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in rgpnet_r18.modules())


def test_mmcv_fuse_alone_breaks_the_shared_conv(rgpnet_r18):
    """Why fuse_conv_bn handles SharedResBlock itself: mmcv folds the first
    BN into the shared weight, which the second application then reuses."""
    from mmcv.cnn import fuse_conv_bn as mmcv_fuse
    x = torch.randn(1, 3, *X)
    broken = mmcv_fuse(copy.deepcopy(rgpnet_r18))
    p = check_parity(eager(rgpnet_r18), eager(broken), x)
    assert not p['ok']


@pytest.mark.parametrize('transposed', [False, True])
@pytest.mark.parametrize('groups', [1, 2])
def test_fold_bn_into_conv(transposed, groups):
    torch.manual_seed(1)
    cls = nn.ConvTranspose2d if transposed else nn.Conv2d
    kwargs = dict(output_padding=1) if transposed else {}
    conv = cls(4, 6, 3, stride=2, padding=1, groups=groups, bias=True,
               **kwargs)
    bn = nn.BatchNorm2d(6)
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 1.5)
    bn.bias.data.normal_()
    ref = nn.Sequential(conv, bn).eval()
    fused = fold_bn_into_conv(conv, bn).eval()
    x = torch.randn(2, 4, 7, 9)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), ref(x), rtol=1e-5, atol=1e-5)
