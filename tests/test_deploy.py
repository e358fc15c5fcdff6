# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Deployment (issue 5): RGPNet through mmdeploy 1.3.1 to ONNX Runtime (and
TensorRT where it exists), with the real mmdeploy, torch exporters and
onnxruntime - small inputs, the demo model."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import onnx
import pytest
import torch

from .conftest import CONFIG_DIR, REPO_ROOT

DEMO_CFG = str(CONFIG_DIR / 'rgpnet_r18_demo.py')
DEPLOY_DIR = CONFIG_DIR / 'deploy'
H, W = 128, 256  # the demo images


def run_tool(*args, env=None, timeout=600):
    """Run a tool of ours in a fresh interpreter, as a user would."""
    tool, *rest = args
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / tool), *map(str, rest)],
        cwd=REPO_ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED='1', **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout)


def small_deploy_cfg(path, base, **overrides):
    """A deploy config that inherits one of configs/deploy/ and overrides
    a few keys (python literals)."""
    lines = [f'_base_ = [{str(DEPLOY_DIR / base)!r}]']
    lines += [f'{key} = {value}' for key, value in overrides.items()]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


@pytest.fixture(scope='module')
def demo_img(demo_data_root):
    return str(demo_data_root / 'leftImg8bit' / 'val' / 'democity' /
               'democity_000000_000019_leftImg8bit.png')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The demo model with random weights and non-trivial BN statistics
    (so that folding BN matters), saved as mmengine saves checkpoints."""
    import rgpnet_mmseg  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(DEMO_CFG).model)
    gen = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            c = module.num_features
            module.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
            module.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            module.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            module.bias.data.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)
    path = tmp_path_factory.mktemp('ckpt') / 'demo.pth'
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return str(path)


@pytest.fixture(scope='module')
def torch_model(checkpoint):
    import rgpnet_mmseg  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import load_checkpoint

    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(DEMO_CFG)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, checkpoint, map_location='cpu')
    model.cfg = cfg  # what mmseg.apis.init_model sets
    return model.eval()


def torch_logits(model, x):
    from rgpnet_mmseg.deploy.runners import TorchRunner
    return TorchRunner(model, with_argmax=False)(x)['logits']


def assert_parity(ref_logits, output, logits=None):
    from rgpnet_mmseg.deploy.runners import compare_outputs
    p = compare_outputs(ref_logits, output, logits)
    assert p['pixel_agreement'] >= 0.999, p
    if logits is not None:
        assert p['logits_max_abs_diff'] <= 1e-3 * max(p['logits_max_abs'],
                                                      1), p
    return p


def assert_deployable(onnx_file):
    """Only ops TensorRT parses; BN folded, no dropout."""
    from rgpnet_mmseg.deploy import FORBIDDEN_OPS, TENSORRT_OPS, op_types
    ops = op_types(onnx.load(onnx_file))
    assert not ops & FORBIDDEN_OPS, ops
    assert ops <= TENSORRT_OPS, ops - TENSORRT_OPS
    assert {'Conv', 'ConvTranspose', 'ArgMax'} <= ops


# --- tools/deploy.py, ONNX Runtime, static shape -------------------------


@pytest.fixture(scope='module')
def deployed_static(tmp_path_factory, checkpoint, demo_img):
    tmp = tmp_path_factory.mktemp('deploy_static')
    cfg = small_deploy_cfg(
        tmp / 'ort_static.py',
        'segmentation_onnxruntime_static-512x1024.py',
        onnx_config=f'dict(input_shape=[{W}, {H}])')
    work_dir = tmp / 'out'
    proc = run_tool('tools/deploy.py', cfg, DEMO_CFG, checkpoint, demo_img,
                    '--work-dir', work_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return cfg, work_dir, proc


def test_deploy_tool_onnxruntime(deployed_static):
    _, work_dir, proc = deployed_static
    for name in ('end2end.onnx', 'deploy.json', 'pipeline.json',
                 'detail.json'):
        assert (work_dir / name).is_file(), name
    assert not (work_dir / 'end2end.onnx.data').exists()
    deploy = json.loads((work_dir / 'deploy.json').read_text())
    assert deploy['models'][0]['backend'] == 'onnxruntime'
    assert deploy['models'][0]['net'] == 'end2end.onnx'
    log = proc.stdout + proc.stderr
    assert 'legacy exporter' in log
    line = re.search(
        r'parity onnxruntime vs pytorch on input 1x3x128x256: '
        r'([\d.]+)% of pixels agree; logits max \|diff\| ([\d.e+-]+)',
        proc.stdout)
    assert line, proc.stdout
    assert float(line.group(1)) >= 99.9
    assert float(line.group(2)) < 1e-3
    assert '-> OK' in proc.stdout
    model = onnx.load(str(work_dir / 'end2end.onnx'))
    (inp, ), (out, ) = model.graph.input, model.graph.output
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == [1, 3, H, W]
    assert out.type.tensor_type.elem_type == onnx.TensorProto.INT64


def test_exported_graph_is_tensorrt_friendly(deployed_static):
    _, work_dir, _ = deployed_static
    assert_deployable(str(work_dir / 'end2end.onnx'))


def test_mmdeploy_inference_api_loads_the_result(deployed_static, demo_img,
                                                 torch_model):
    """mmdeploy's own inference API and SDK files accept the work dir."""
    from mmdeploy.apis import inference_model
    cfg, work_dir, _ = deployed_static
    result = inference_model(DEMO_CFG, cfg, [str(work_dir / 'end2end.onnx')],
                             demo_img, 'cpu')
    pred = result[0].pred_sem_seg.data.numpy()
    assert pred.shape == (1, H, W)
    from mmseg.apis import inference_model as mmseg_inference
    ref = mmseg_inference(torch_model, demo_img).pred_sem_seg.data.numpy()
    assert (pred == ref).mean() >= 0.999
    pipeline = json.loads((work_dir / 'pipeline.json').read_text())
    tasks = pipeline['pipeline']['tasks']
    resize = tasks[0]['transforms'][1]
    assert resize['type'] == 'Resize' and resize['size'] == [W, H]


def test_miou_comparison_over_a_backend(deployed_static, checkpoint,
                                        demo_data_root):
    """The mIoU comparison that tools/deploy.py runs for TensorRT FP16,
    here on ONNX Runtime (it takes any mmdeploy backend)."""
    from rgpnet_mmseg.deploy.evaluation import evaluate_backend_miou
    from rgpnet_mmseg.deploy.pipeline import load_configs
    cfg, work_dir, _ = deployed_static
    deploy_cfg, model_cfg = load_configs(cfg, DEMO_CFG)
    m = evaluate_backend_miou(
        model_cfg,
        deploy_cfg,
        checkpoint, [str(work_dir / 'end2end.onnx')],
        max_images=3,
        data_root=str(demo_data_root))
    assert m['images'] == 3
    assert m['pixel_agreement'] >= 0.999
    assert abs(m['miou_diff']) < 0.5
    assert 0 <= m['pytorch_miou'] <= 100


# --- the mmdeploy API, dynamic shapes and logits -------------------------


MMDEPLOY_USER_SCRIPT = """
import sys
import rgpnet_mmseg
assert 'mmdeploy' not in sys.modules, 'rgpnet_mmseg imports mmdeploy'
assert 'rgpnet_mmseg.deploy' not in sys.modules
from mmdeploy.apis import torch2onnx
torch2onnx(*sys.argv[1:7], device='cpu')
assert 'rgpnet_mmseg.deploy' in sys.modules  # codebase_config.module
"""


def test_mmdeploy_api_dynamic_export(tmp_path, checkpoint, demo_img,
                                     torch_model):
    """A plain mmdeploy user script (torch2onnx with the dynamic deploy
    config) finds our code through codebase_config.module; ONNX Runtime at
    two sizes agrees with PyTorch."""
    from rgpnet_mmseg.deploy.runners import ORTRunner
    cfg = str(DEPLOY_DIR / 'segmentation_onnxruntime_dynamic.py')
    proc = subprocess.run(
        [
            sys.executable, '-c', MMDEPLOY_USER_SCRIPT, demo_img,
            str(tmp_path), 'end2end.onnx', cfg, DEMO_CFG, checkpoint
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    onnx_file = str(tmp_path / 'end2end.onnx')
    assert_deployable(onnx_file)  # BN folded: our exporter ran
    model = onnx.load(onnx_file)
    dims = [(d.dim_param or d.dim_value)
            for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ['batch', 3, 'height', 'width']
    runner = ORTRunner(onnx_file, with_logits=True)
    torch.manual_seed(1)
    # any size: multiples of 32, and one that is not
    for shape in ((1, 3, 64, 128), (2, 3, 96, 160), (1, 3, 100, 200)):
        x = torch.randn(*shape)
        out = runner(x)
        assert out['output'].shape == (shape[0], 1) + shape[2:]
        assert_parity(torch_logits(torch_model, x), out['output'],
                      out['logits'])


def test_logits_variant(tmp_path, checkpoint, demo_img, torch_model):
    """with_argmax=False (the _logits config / --logits) outputs the
    logits (N, 19, H, W)."""
    from mmdeploy.apis import torch2onnx

    from rgpnet_mmseg.deploy.pipeline import load_configs
    from rgpnet_mmseg.deploy.runners import ORTRunner
    cfg = small_deploy_cfg(
        tmp_path / 'logits.py',
        'segmentation_onnxruntime_static-512x1024.py',
        onnx_config=f'dict(input_shape=[{W // 2}, {H // 2}])')
    deploy_cfg, model_cfg = load_configs(cfg, DEMO_CFG, with_argmax=False)
    torch2onnx(demo_img, str(tmp_path), 'end2end.onnx', deploy_cfg,
               model_cfg, checkpoint, 'cpu')
    onnx_file = str(tmp_path / 'end2end.onnx')
    from rgpnet_mmseg.deploy import op_types
    assert 'ArgMax' not in op_types(onnx.load(onnx_file))
    x = torch.randn(1, 3, H // 2, W // 2)
    out = ORTRunner(onnx_file)(x)['output']
    assert out.shape == (1, 19, H // 2, W // 2) and out.dtype == np.float32
    assert_parity(torch_logits(torch_model, x), out, out)


# --- exporters -------------------------------------------------------------


def test_choose_exporter():
    from rgpnet_mmseg.deploy.exporter import (EXPORTER_ENV, ExporterError,
                                              choose_exporter,
                                              dynamo_exporter_available,
                                              legacy_exporter_available)

    # this stack: torch 2.13 still has the TorchScript exporter
    assert legacy_exporter_available() and dynamo_exporter_available()
    env = os.environ.pop(EXPORTER_ENV, None)
    try:
        assert choose_exporter() == 'legacy'
        assert choose_exporter('dynamo') == 'dynamo'
        # once torch drops the legacy exporter, auto falls back to dynamo
        assert choose_exporter('auto', legacy_available=False) == 'dynamo'
        os.environ[EXPORTER_ENV] = 'dynamo'
        assert choose_exporter() == 'dynamo'
        assert choose_exporter('legacy') == 'legacy'  # argument wins
        with pytest.raises(ExporterError, match='dynamo'):
            choose_exporter('legacy', legacy_available=False)
        with pytest.raises(ExporterError, match='onnxscript'):
            choose_exporter('dynamo', dynamo_available=False)
        with pytest.raises(ExporterError, match='Unknown ONNX exporter'):
            choose_exporter('torchscript')
    finally:
        os.environ.pop(EXPORTER_ENV, None)
        if env is not None:
            os.environ[EXPORTER_ENV] = env


def test_dynamo_exporter_on_rgpnet(tmp_path, torch_model):
    """The dynamo exporter (what remains once the TorchScript one is gone)
    directly on our model: one file, BN folded, readable by TensorRT 8.6's
    parser, same result as PyTorch. (Dynamic shapes with it: the mmdeploy
    test below.)"""
    from rgpnet_mmseg.deploy.exporter import export_segmentor
    from rgpnet_mmseg.deploy.runners import ORTRunner
    onnx_file = str(tmp_path / 'dynamo.onnx')
    info = export_segmentor(
        torch_model, onnx_file, (64, 128), exporter='dynamo')
    assert info['exporter'] == 'dynamo' and info['folded_bn'] > 0
    # brought down to what TensorRT 8.6's parser reads (opset 17, IR 8)
    assert info['opset'] <= 17 and info['ir_version'] <= 8
    assert not os.path.exists(onnx_file + '.data')
    assert_deployable(onnx_file)
    x = torch.randn(1, 3, 64, 128)
    out = ORTRunner(onnx_file, with_logits=True)(x)
    assert_parity(torch_logits(torch_model, x), out['output'], out['logits'])


def test_dynamo_exporter_through_mmdeploy(tmp_path, checkpoint, demo_img,
                                          torch_model, monkeypatch):
    """mmdeploy's torch2onnx with RGPNET_ONNX_EXPORTER=dynamo and the
    dynamic deploy config: no KeyError from mmdeploy's rewriter on exit, no
    shape specialisation by mmdeploy's marks, any size runs."""
    from mmdeploy.apis import torch2onnx

    from rgpnet_mmseg.deploy.exporter import EXPORTER_ENV, LAST_EXPORT
    from rgpnet_mmseg.deploy.runners import ORTRunner
    monkeypatch.setenv(EXPORTER_ENV, 'dynamo')
    cfg = str(DEPLOY_DIR / 'segmentation_onnxruntime_dynamic.py')
    torch2onnx(demo_img, str(tmp_path), 'end2end.onnx', cfg, DEMO_CFG,
               checkpoint, 'cpu')
    assert LAST_EXPORT['exporter'] == 'dynamo'
    onnx_file = str(tmp_path / 'end2end.onnx')
    assert_deployable(onnx_file)
    runner = ORTRunner(onnx_file, with_logits=True)
    for shape in ((1, 3, 64, 128), (1, 3, 100, 200)):
        x = torch.randn(*shape)
        out = runner(x)
        assert_parity(torch_logits(torch_model, x), out['output'],
                      out['logits'])


def test_fold_batchnorm_shared_weight_and_deconv(tmp_path):
    """Folding keeps a conv weight shared by two BNs correct and folds BN
    into grouped transposed convolutions."""
    import torch.nn as nn

    from rgpnet_mmseg.deploy import export_onnx, fold_batchnorm, op_types
    from rgpnet_mmseg.deploy.runners import ORTRunner

    class Net(nn.Module):

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
            self.bn1, self.bn2 = nn.BatchNorm2d(4), nn.BatchNorm2d(4)
            self.up = nn.ConvTranspose2d(
                4, 6, 3, 2, 1, output_padding=1, groups=2)
            self.bn3 = nn.BatchNorm2d(6)

        def forward(self, x):
            x = torch.relu(self.bn1(self.conv(x)))
            x = self.bn2(self.conv(x)) + x
            return self.bn3(self.up(x))

    net = Net()
    for bn in (net.bn1, net.bn2, net.bn3):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-1, 1)
    net.eval()
    x = torch.randn(2, 4, 8, 8)
    path = str(tmp_path / 'net.onnx')
    export_onnx(
        net, (x, ),
        path,
        exporter='legacy',
        fold_bn=False,
        input_names=['input'],
        output_names=['output'],
        opset_version=11,
        do_constant_folding=False)  # torch then leaves the BNs to us
    model = onnx.load(path)
    n_bn = sum(n.op_type == 'BatchNormalization' for n in model.graph.node)
    assert n_bn >= 1  # at least the one after the transposed convolution
    assert fold_batchnorm(model) == n_bn
    assert 'BatchNormalization' not in op_types(model)
    out = ORTRunner(model)(x)['output']
    with torch.no_grad():
        np.testing.assert_allclose(out, net(x).numpy(), rtol=1e-4, atol=1e-4)


def test_fp16_graph_for_strongly_typed_tensorrt(deployed_static, torch_model):
    """TensorRT 11 builds FP16 only from a float16 graph: the converted
    graph type-checks and gives nearly the same labels."""
    from onnx import shape_inference

    from rgpnet_mmseg.deploy import convert_to_fp16
    from rgpnet_mmseg.deploy.runners import ORTRunner, compare_outputs
    _, work_dir, _ = deployed_static
    fp16 = convert_to_fp16(onnx.load(str(work_dir / 'end2end.onnx')))
    onnx.checker.check_model(fp16, full_check=True)
    shape_inference.infer_shapes(fp16, check_type=True, strict_mode=True)
    inits = {i.name: i.data_type for i in fp16.graph.initializer}
    conv_weights = [
        n.input[1] for n in fp16.graph.node if n.op_type == 'Conv'
    ]
    assert all(inits[w] == onnx.TensorProto.FLOAT16 for w in conv_weights)
    assert fp16.graph.input[0].type.tensor_type.elem_type == \
        onnx.TensorProto.FLOAT
    x = torch.randn(1, 3, H, W)
    out = ORTRunner(fp16)(x)['output']
    p = compare_outputs(torch_logits(torch_model, x), out)
    assert p['pixel_agreement'] >= 0.98, p


def test_benchmark_tool_table(tmp_path, checkpoint):
    proc = run_tool('tools/benchmark.py', DEMO_CFG, '--checkpoint',
                    checkpoint, '--shape', 64, 128, '--backend', 'pytorch',
                    'onnxruntime', '--runs', 2, '--warmup', 1, '--threads', 1,
                    '--work-dir', tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = {
        line.split()[0]: line.split()
        for line in proc.stdout.splitlines()
        if line.startswith(('pytorch ', 'onnxruntime '))
    }
    assert set(rows) == {'pytorch', 'onnxruntime'}, proc.stdout
    assert float(rows['onnxruntime'][2]) > 0  # median ms
    assert rows['pytorch'][5] == '1.00x'
    assert 'input 1x3x64x128, 1 warm-up + 2 timed runs' in proc.stdout
    assert (tmp_path / 'end2end_64x128.onnx').is_file()


# --- clear errors ------------------------------------------------------------


def test_static_shape_not_divisible_by_32_is_refused(tmp_path, checkpoint,
                                                     demo_img):
    cfg = small_deploy_cfg(
        tmp_path / 'bad.py',
        'segmentation_onnxruntime_static-512x1024.py',
        onnx_config='dict(input_shape=[250, 100])')
    proc = run_tool('tools/deploy.py', cfg, DEMO_CFG, checkpoint, demo_img,
                    '--work-dir', tmp_path / 'out')
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert 'Input shape 100x250' in proc.stderr
    assert 'multiples of 32' in proc.stderr
    assert 'onnx_config.input_shape=[250, 100]' in proc.stderr
    assert not (tmp_path / 'out' / 'end2end.onnx').exists()


def test_shape_checks_of_configs_and_exports(tmp_path, checkpoint, demo_img):
    from mmdeploy.apis import torch2onnx
    from mmengine.config import Config

    from rgpnet_mmseg.deploy import DeployConfigError, check_deploy_config
    for path in sorted(DEPLOY_DIR.glob('*.py')):
        check_deploy_config(Config.fromfile(str(path)), path.name)
    trt = Config.fromfile(
        str(DEPLOY_DIR /
            'segmentation_tensorrt_dynamic-512x1024-1024x2048.py'))
    trt.backend_config.model_inputs[0].input_shapes.input.max_shape = [
        1, 3, 1000, 2048
    ]
    with pytest.raises(DeployConfigError, match=r'1000x2048.*max_shape'):
        check_deploy_config(trt)
    trt = Config.fromfile(
        str(DEPLOY_DIR / 'segmentation_tensorrt_static-512x1024.py'))
    trt.onnx_config.input_shape = [2048, 1024]
    with pytest.raises(DeployConfigError, match='does not match the static'):
        check_deploy_config(trt)
    # mmdeploy's own API stops before exporting too
    cfg = small_deploy_cfg(
        tmp_path / 'bad.py',
        'segmentation_onnxruntime_static-512x1024.py',
        onnx_config='dict(input_shape=[256, 120])')
    with pytest.raises(DeployConfigError, match='120x256.*multiples of 32'):
        torch2onnx(demo_img, str(tmp_path), 'end2end.onnx', cfg, DEMO_CFG,
                   checkpoint, 'cpu')
    assert not (tmp_path / 'end2end.onnx').exists()


# --- TensorRT (GPU machines) ---------------------------------------------


def _tensorrt_or_skip():
    pytest.importorskip(
        'tensorrt', reason='TensorRT is not installed (needs an NVIDIA GPU)')
    if not torch.cuda.is_available():
        pytest.skip('TensorRT needs a CUDA GPU; torch.cuda.is_available() '
                    'is False')


@pytest.mark.parametrize('fp16', [False, True], ids=['fp32', 'fp16'])
def test_tensorrt_deploy_tool(tmp_path, checkpoint, demo_img, demo_data_root,
                              fp16):
    _tensorrt_or_skip()
    base = ('segmentation_tensorrt-fp16_static-512x1024.py'
            if fp16 else 'segmentation_tensorrt_static-512x1024.py')
    shape = f'[1, 3, {H}, {W}]'
    cfg = small_deploy_cfg(
        tmp_path / 'trt.py',
        base,
        onnx_config=f'dict(input_shape=[{W}, {H}])',
        backend_config=(f'dict(model_inputs=[dict(input_shapes=dict(input='
                        f'dict(min_shape={shape}, opt_shape={shape}, '
                        f'max_shape={shape})))])'))
    proc = run_tool('tools/deploy.py', cfg, DEMO_CFG, checkpoint, demo_img,
                    '--work-dir', tmp_path / 'out', '--device', 'cuda',
                    '--miou-max-images', 4, '--data-root', demo_data_root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / 'out' / 'end2end.engine').is_file()
    assert 'parity tensorrt' in proc.stdout
    if fp16:
        assert 'mIoU on 4 val images' in proc.stdout
    else:
        assert '-> OK' in proc.stdout
    # mmdeploy's inference API runs the engine through our wrapper
    from mmdeploy.apis import inference_model
    result = inference_model(DEMO_CFG, cfg,
                             [str(tmp_path / 'out' / 'end2end.engine')],
                             demo_img, 'cuda:0')
    assert result[0].pred_sem_seg.data.shape[-2:] == (H, W)


def test_tensorrt_dynamic_profile(tmp_path, torch_model):
    _tensorrt_or_skip()
    from rgpnet_mmseg.deploy.exporter import export_segmentor
    from rgpnet_mmseg.deploy.runners import TensorRTRunner
    from rgpnet_mmseg.deploy.tensorrt import build_engine
    onnx_file = str(tmp_path / 'dyn.onnx')
    export_segmentor(torch_model, onnx_file, (H, W), dynamic=True)
    engine = build_engine(
        onnx_file,
        str(tmp_path / 'dyn.engine'),
        dict(input=dict(
            min_shape=[1, 3, 64, 128],
            opt_shape=[1, 3, H, W],
            max_shape=[1, 3, 256, 512])))
    runner = TensorRTRunner(engine)
    for shape in ((1, 3, 64, 128), (1, 3, 192, 320)):
        x = torch.randn(*shape)
        assert_parity(torch_logits(torch_model, x), runner(x)['output'])
    with pytest.raises(ValueError, match='outside the engine'):
        runner(torch.randn(1, 3, 512, 512))
