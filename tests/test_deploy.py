# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Deployment: RGPNet through mmdeploy 1.3.1 to ONNX Runtime (and TensorRT
where it exists), with the real mmdeploy, torch exporters and onnxruntime -
small inputs, the demo model."""
import copy
import inspect
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
from .deploy_helpers import deploy_cfg as load_deploy_cfg
from .deploy_helpers import export, graph_logits, ort_run

DEMO_CFG = str(CONFIG_DIR / 'rgpnet_r18_demo.py')
DEPLOY_DIR = CONFIG_DIR / 'deploy'
H, W = 128, 256  # the demo images
# what an RGPNet graph may hold for TensorRT: convolutions (BN fused),
# activations, the adaptor's sums, crop/pad of `match_size`, the resize,
# argmax, and the shape arithmetic of dynamic graphs
TENSORRT_OPS = frozenset({
    'Conv', 'ConvTranspose', 'Relu', 'Add', 'MaxPool', 'Resize', 'ArgMax',
    'Slice', 'Pad', 'Cast', 'Shape', 'Gather', 'Unsqueeze', 'Squeeze',
    'Concat', 'Constant', 'Reshape', 'Div', 'Mul', 'Sub', 'Floor', 'Ceil',
    'Identity', 'Expand', 'ConstantOfShape', 'Range', 'Min', 'Max', 'Clip'
})


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
    """A deploy config inheriting one of configs/deploy/, with a few keys
    overridden (python literals)."""
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
    (so that fusing BN matters), saved as mmengine saves checkpoints."""
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
    from mmseg.apis import init_model
    return init_model(DEMO_CFG, checkpoint, device='cpu')


torch_logits = graph_logits


def assert_parity(ref_logits, output):
    from rgpnet_mmseg.deploy.verify import compare_outputs
    p = compare_outputs(ref_logits, output)
    assert p['pixel_agreement'] >= 0.999, p
    if 'logits_max_abs_diff' in p:
        assert p['logits_max_abs_diff'] <= 1e-3 * max(p['logits_max_abs'],
                                                      1), p
    return p


def assert_deployable(onnx_file):
    """Only ops TensorRT parses, BN fused, no dropout, one file."""
    ops = {n.op_type for n in onnx.load(onnx_file).graph.node}
    assert not ops & {'BatchNormalization', 'Dropout'}, ops
    assert ops <= TENSORRT_OPS, ops - TENSORRT_OPS
    assert {'Conv', 'ConvTranspose'} <= ops
    assert not os.path.exists(onnx_file + '.data')
    return ops


# --- tools/deploy.py, ONNX Runtime, static shape, logits (the default) ---


@pytest.fixture(scope='module')
def deployed_static(tmp_path_factory, checkpoint, demo_img):
    tmp = tmp_path_factory.mktemp('deploy_static')
    cfg = small_deploy_cfg(
        tmp / 'ort_static.py',
        'segmentation_onnxruntime_static-512x1024.py',
        onnx_config=f'dict(input_shape=[{W}, {H}])',
        backend_config='dict(intra_op_num_threads=1)')
    work_dir = tmp / 'out'
    proc = run_tool('tools/deploy.py', cfg, DEMO_CFG, checkpoint, demo_img,
                    '--work-dir', work_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return cfg, work_dir, proc


def test_deploy_tool_onnxruntime(deployed_static):
    """Also the compat test of mmdeploy calling torch.onnx.export without
    dynamo= (torch >= 2.9 would write opset 18 and a .data file) and of
    export2SDK mutating its config (the parity check builds the model
    after it)."""
    _, work_dir, proc = deployed_static
    for name in ('end2end.onnx', 'deploy.json', 'pipeline.json',
                 'detail.json', 'deploy_cfg.py', 'model_cfg.py'):
        assert (work_dir / name).is_file(), name
    deploy = json.loads((work_dir / 'deploy.json').read_text())
    assert deploy['models'][0]['backend'] == 'onnxruntime'
    assert deploy['models'][0]['net'] == 'end2end.onnx'
    assert 'legacy exporter' in proc.stdout + proc.stderr
    line = re.search(
        r'parity onnxruntime vs pytorch on input 1x3x128x256: '
        r'([\d.]+)% of pixels agree; logits max \|diff\| ([\d.e+-]+)',
        proc.stdout)
    assert line, proc.stdout
    assert float(line.group(1)) >= 99.9 and float(line.group(2)) < 1e-3
    assert '-> OK' in proc.stdout
    onnx_file = str(work_dir / 'end2end.onnx')
    assert_deployable(onnx_file)
    model = onnx.load(onnx_file)
    assert [o.version for o in model.opset_import if o.domain == ''] == [11]
    (inp, ), (out, ) = model.graph.input, model.graph.output
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == \
        [1, 3, H, W]
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == \
        [1, 19, H, W]  # logits: the default ONNX Runtime configs
    assert out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_work_dir_rebuilds_the_backend_model(deployed_static, demo_img,
                                             torch_model):
    """The configs the tool leaves in the work dir rebuild mmdeploy's task
    processor; its backend model (ours, model_type mmseg_end2end: mmdeploy's
    ORTWrapper with the config's thread count) and mmdeploy's inference API
    agree with mmseg's inference_model."""
    from mmdeploy.apis import inference_model
    from mmdeploy.apis.utils import build_task_processor
    from mmengine.config import Config
    from mmseg.apis import inference_model as mmseg_inference
    _, work_dir, _ = deployed_static
    deploy_cfg = Config.fromfile(str(work_dir / 'deploy_cfg.py'))
    model_cfg = Config.fromfile(str(work_dir / 'model_cfg.py'))
    processor = build_task_processor(model_cfg, deploy_cfg, 'cpu')
    backend = processor.build_backend_model([str(work_dir / 'end2end.onnx')])
    from mmdeploy.backend.onnxruntime.wrapper import ORTWrapper

    from rgpnet_mmseg.deploy import MMSegEnd2EndModel
    assert deploy_cfg.codebase_config.model_type == 'mmseg_end2end'
    assert deploy_cfg.codebase_config.align_corners is False
    assert type(backend) is MMSegEnd2EndModel
    assert isinstance(backend.wrapper, ORTWrapper)
    options = backend.wrapper.sess.get_session_options()
    assert options.intra_op_num_threads == 1
    result = inference_model(model_cfg, deploy_cfg,
                             [str(work_dir / 'end2end.onnx')], demo_img,
                             'cpu')
    pred = result[0].pred_sem_seg.data.numpy()
    ref = mmseg_inference(torch_model, demo_img).pred_sem_seg.data.numpy()
    assert pred.shape == ref.shape == (1, H, W)
    assert (pred == ref).mean() >= 0.999
    pipeline = json.loads((work_dir / 'pipeline.json').read_text())
    resize = pipeline['pipeline']['tasks'][0]['transforms'][1]
    assert resize['type'] == 'Resize' and resize['size'] == [W, H]


def test_miou_comparison_over_a_backend(deployed_static, checkpoint,
                                        demo_data_root):
    """The mIoU comparison tools/deploy.py runs for TensorRT FP16, on ONNX
    Runtime (it takes any mmdeploy backend)."""
    from rgpnet_mmseg.deploy.convert import load_configs
    from rgpnet_mmseg.deploy.verify import evaluate_backend_miou
    cfg, work_dir, _ = deployed_static
    deploy_cfg, model_cfg = load_configs(cfg, DEMO_CFG)
    m = evaluate_backend_miou(
        model_cfg,
        deploy_cfg,
        checkpoint, [str(work_dir / 'end2end.onnx')],
        max_images=3,
        data_root=str(demo_data_root))
    assert m['images'] == 3 and m['pixel_agreement'] >= 0.999
    assert m['miou_diff'] == m['backend_miou'] - m['pytorch_miou']
    assert abs(m['miou_diff']) < 0.5


def test_onnxruntime_wrapper_errors(tmp_path):
    import onnxruntime as ort

    from rgpnet_mmseg.deploy.backends.onnxruntime import OnnxRuntimeWrapper
    with pytest.raises(FileNotFoundError, match='ONNX file not found'):
        OnnxRuntimeWrapper(str(tmp_path / 'missing.onnx'))
    if 'CUDAExecutionProvider' not in ort.get_available_providers():
        (tmp_path / 'x.onnx').write_bytes(b'')
        with pytest.raises(RuntimeError, match='CUDA execution provider'):
            OnnxRuntimeWrapper(str(tmp_path / 'x.onnx'), 'cuda:0')


# --- the mmdeploy API, dynamic shapes, argmax ------------------------------

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
    """A plain mmdeploy user script (torch2onnx, the dynamic deploy config)
    finds our code through codebase_config.module; the logits agree with
    PyTorch at several sizes, also not multiples of 32."""
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
    assert 'ArgMax' not in assert_deployable(onnx_file)
    dims = [(d.dim_param or d.dim_value) for d in onnx.load(
        onnx_file).graph.input[0].type.tensor_type.shape.dim]
    assert dims == ['batch', 3, 'height', 'width']
    torch.manual_seed(1)
    for shape in ((1, 3, 64, 128), (2, 3, 96, 160), (1, 3, 100, 200)):
        x = torch.randn(*shape)
        out = ort_run(onnx_file, x)
        assert out.shape == (shape[0], 19) + shape[2:]
        assert_parity(torch_logits(torch_model, x), out)


def test_argmax_variant(tmp_path, checkpoint, demo_img, torch_model):
    """The _argmax config (tools/deploy.py --argmax) puts the label map
    (N, 1, H, W) int64 into the graph."""
    from mmdeploy.apis import torch2onnx

    from rgpnet_mmseg.deploy.convert import load_configs
    cfg = str(DEPLOY_DIR / 'segmentation_onnxruntime_dynamic_argmax.py')
    deploy_cfg, model_cfg = load_configs(cfg, DEMO_CFG)
    assert deploy_cfg.codebase_config.with_argmax is True
    torch2onnx(demo_img, str(tmp_path), 'end2end.onnx', deploy_cfg,
               model_cfg, checkpoint, 'cpu')
    onnx_file = str(tmp_path / 'end2end.onnx')
    assert 'ArgMax' in assert_deployable(onnx_file)
    x = torch.randn(1, 3, H // 2, W // 2)
    out = ort_run(onnx_file, x)
    assert out.shape == (1, 1, H // 2, W // 2) and out.dtype == np.int64
    assert_parity(torch_logits(torch_model, x), out)


# --- exporters -------------------------------------------------------------


def test_choose_exporter():
    from rgpnet_mmseg.deploy.convert import load_configs
    from rgpnet_mmseg.deploy.exporter import (ExporterError, choose_exporter,
                                              dynamo_exporter_available,
                                              legacy_exporter_available)

    # this stack: torch 2.13 still has the TorchScript exporter
    assert legacy_exporter_available() and dynamo_exporter_available()
    assert choose_exporter() == 'legacy'
    assert choose_exporter('dynamo') == 'dynamo'
    # once torch drops the legacy exporter, auto falls back to dynamo
    assert choose_exporter('auto', legacy_available=False) == 'dynamo'
    # the deploy config carries the choice (tools/deploy.py --exporter)
    cfg = str(DEPLOY_DIR / 'segmentation_onnxruntime_dynamic.py')

    def exporter_of(*args, **kwargs):  # as the torch.onnx.export rewriter
        return choose_exporter(load_configs(*args, **kwargs)[0].onnx_config
                               .get('exporter'))
    assert exporter_of(cfg, DEMO_CFG) == 'legacy'
    assert exporter_of(cfg, DEMO_CFG, exporter='dynamo') == 'dynamo'
    with pytest.raises(ExporterError, match='dynamo'):
        choose_exporter('legacy', legacy_available=False)
    with pytest.raises(ExporterError, match='onnxscript'):
        choose_exporter('dynamo', dynamo_available=False)
    with pytest.raises(ExporterError, match='Unknown ONNX exporter'):
        choose_exporter('torchscript')


@pytest.mark.parametrize('exporter', ['legacy', 'dynamo'])
def test_export_fuses_bn_of_a_copy(tmp_path, torch_model, exporter):
    """The rewriter of torch.onnx.export exports a BN-fused copy of an
    RGPNet (one place: rgpnet_mmseg.models.fuse_conv_bn, the shared-weight
    block included), so no exporter leaves a BatchNormalization (the legacy
    one never folds BN into the transposed convolutions); the model passed
    in (here a user's, to mmdeploy's own export API) is not changed; the
    dynamo graph is brought to what TensorRT 8.6 parses (opset 17, IR 8)."""
    from mmdeploy.apis.onnx import export as mmdeploy_export

    from rgpnet_mmseg.deploy.convert import load_configs
    cfg, _ = load_configs(load_deploy_cfg(shape=(64, 128)), DEMO_CFG,
                          exporter=exporter)
    state = {k: v.clone() for k, v in torch_model.state_dict().items()}
    bns = sum(isinstance(m, torch.nn.BatchNorm2d)
              for m in torch_model.modules())
    x = torch.randn(1, 3, 64, 128)
    mmdeploy_export(torch_model, x, str(tmp_path / exporter),
                    backend='onnxruntime', context_info=dict(cfg=cfg),
                    input_names=['input'], output_names=['output'],
                    input_metas=dict(mode='predict'))
    onnx_file = str(tmp_path / f'{exporter}.onnx')
    assert bns == sum(isinstance(m, torch.nn.BatchNorm2d)
                      for m in torch_model.modules())
    assert all(torch.equal(v, state[k])
               for k, v in torch_model.state_dict().items())
    model = onnx.load(onnx_file)
    opset = [o.version for o in model.opset_import if o.domain == '']
    assert opset == [11] if exporter == 'legacy' else (
        opset[0] <= 17 and model.ir_version <= 8)
    assert_deployable(onnx_file)
    assert_parity(torch_logits(torch_model, x), ort_run(onnx_file, x))


def test_dynamo_exporter_through_mmdeploy(tmp_path, checkpoint, demo_img,
                                          torch_model):
    """mmdeploy's torch2onnx with onnx_config.exporter='dynamo' and the
    dynamic config. Compat test of three fixes: no KeyError from mmdeploy's
    fx.wrap bookkeeping on exit, no shape specialisation by mmdeploy's
    marks, forward(*args) matched to the dynamic axes; any size runs."""
    from mmdeploy.apis import torch2onnx
    cfg = load_deploy_cfg(onnx_config=dict(exporter='dynamo'))
    torch2onnx(demo_img, str(tmp_path), 'end2end.onnx', cfg, DEMO_CFG,
               checkpoint, 'cpu')
    onnx_file = str(tmp_path / 'end2end.onnx')
    assert_deployable(onnx_file)
    assert onnx.load(onnx_file).opset_import[0].version >= 17  # dynamo's
    for shape in ((1, 3, 64, 128), (1, 3, 100, 200)):
        x = torch.randn(*shape)
        assert_parity(torch_logits(torch_model, x), ort_run(onnx_file, x))


# --- the compat workarounds: each test fails without its fix -------------


def test_compat_fx_wrap_registry():
    """torch.fx.wrap inside mmdeploy's RewriterContext (torch.export does
    it): leaving the context must not raise KeyError: -1 and must drop the
    entry again."""
    import rgpnet_mmseg.deploy  # noqa: F401
    from mmdeploy.core import RewriterContext
    from torch.fx import _symbolic_trace
    registry = _symbolic_trace._wrapped_fns_to_patch
    before = dict(registry)
    with RewriterContext(cfg={}, backend='onnxruntime'):
        exec('import torch.fx\ntorch.fx.wrap("len")', {'__name__': 'm'})
        assert len(registry) == len(before) + 1
    assert registry == before


def test_compat_torchscript_symbolics():
    """mmdeploy's TensorRT rewriter of _prepare_onnx_paddings applies."""
    import rgpnet_mmseg.deploy  # noqa: F401
    import torch.onnx.symbolic_opset11 as opset11
    from mmdeploy.core import RewriterContext
    original = opset11._prepare_onnx_paddings
    with RewriterContext(cfg={}, backend='tensorrt'):
        assert opset11._prepare_onnx_paddings is not original
    assert opset11._prepare_onnx_paddings is original


def test_compat_deepcopy_rewriter(monkeypatch):
    """Inside mmdeploy's ONNX RewriterContext copy.deepcopy clones a tensor
    (mmdeploy's behaviour) without walking the stack on every call."""
    import rgpnet_mmseg.deploy  # noqa: F401
    from mmdeploy.core import RewriterContext
    from mmdeploy.utils import IR
    calls = []
    stack = inspect.stack
    monkeypatch.setattr(inspect, 'stack',
                        lambda *a: calls.append(1) or stack(*a))
    x = torch.arange(3.)
    with RewriterContext(cfg={}, backend='onnxruntime', ir=IR.ONNX):
        y = copy.deepcopy(x)
        calls.clear()
        for _ in range(3):
            copy.deepcopy(x)
    assert torch.equal(x, y) and y is not x
    assert calls == []


BROKEN_TENSORRT = 'raise {}("libnvinfer.so.10: cannot open shared object")\n'
IMPORT_DEPLOY = """
import rgpnet_mmseg.deploy
from rgpnet_mmseg.deploy.backends.tensorrt import tensorrt_unavailable_reason
print(tensorrt_unavailable_reason())
"""


@pytest.mark.parametrize('error', ['ImportError', 'OSError'])
def test_import_with_a_broken_tensorrt(tmp_path, error):
    (tmp_path / 'tensorrt').mkdir()
    (tmp_path / 'tensorrt' / '__init__.py').write_text(
        BROKEN_TENSORRT.format(error))
    proc = subprocess.run([sys.executable, '-c', IMPORT_DEPLOY],
                          cwd=REPO_ROOT,
                          env=dict(os.environ, PYTHONPATH=str(tmp_path)),
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'TensorRT is not installed' in proc.stdout or \
        'libnvinfer' in proc.stdout


def test_builder_precision():
    """Deploy config in, TensorRT builder flags out: FP32 clears TF32 (on
    by default in TensorRT), TF32 only when asked (INT8:
    test_tensorrt_int8.py)."""
    from mmengine.config import Config

    from rgpnet_mmseg.deploy.backends.tensorrt import builder_precision
    from rgpnet_mmseg.deploy.checks import precision_mode
    for name, mode, flags in (
            ('segmentation_tensorrt_static-512x1024.py', 'fp32',
             dict(fp16_flag=False, strongly_typed=False, tf32=False)),
            ('segmentation_tensorrt-fp16_static-512x1024.py', 'fp16',
             dict(fp16_flag=True, strongly_typed=False, tf32=True))):
        common = Config.fromfile(str(DEPLOY_DIR / name)).backend_config.get(
            'common_config', {})
        assert precision_mode(common) == mode
        assert builder_precision(common, has_fp16_flag=True) == flags
    assert builder_precision({}, False)['tf32'] is False
    tf32 = dict(tf32_mode=True, max_workspace_size=1 << 30)
    assert precision_mode(tf32) == 'tf32'
    assert builder_precision(tf32, True) == dict(
        fp16_flag=False, strongly_typed=False, tf32=True)
    fp16 = dict(fp16_mode=True, fp16_typing='auto')
    assert builder_precision(fp16, False) == dict(
        fp16_flag=False, strongly_typed=True, tf32=True)
    assert builder_precision(dict(fp16, fp16_typing='strong'), True)[
        'strongly_typed']
    with pytest.raises(ValueError, match='no BuilderFlag.FP16'):
        builder_precision(dict(fp16_mode=True, fp16_typing='flag'), False)
    with pytest.raises(ValueError, match='fp16_typing must be one of'):
        builder_precision(dict(fp16_mode=True, fp16_typing='weak'), True)


def test_reference_runs_without_tf32():
    """The PyTorch reference of the parity and mIoU checks runs in true
    FP32 (TF32 off in matmuls and cuDNN) and leaves the settings as they
    were (flags exist on the CPU build too)."""
    from rgpnet_mmseg.deploy.verify import without_tf32
    b = torch.backends
    flags = (b.cuda.matmul, b.cudnn.conv, b.cudnn.rnn)
    before = [f.fp32_precision for f in flags]
    for f in flags:
        f.fp32_precision = 'tf32'
    try:
        with without_tf32():
            assert [f.fp32_precision for f in flags] == ['ieee'] * 3
        assert [f.fp32_precision for f in flags] == ['tf32'] * 3
        with pytest.raises(KeyError), without_tf32():
            raise KeyError('restored on errors too')
        assert [f.fp32_precision for f in flags] == ['tf32'] * 3
    finally:
        for f, value in zip(flags, before):
            f.fp32_precision = value


def test_parity_verdicts_per_precision():
    """FP32 is judged at 99.9 % of pixels and logits; TF32, FP16 and INT8
    at their own 98 % (with the mIoU beside); OpenVINO BF16 at 99.8 %,
    OpenVINO INT8 at 99.5 %, both also on a demo mIoU drop <= 0.5."""
    from rgpnet_mmseg.deploy.verify import (MIN_PIXEL_AGREEMENT, format_miou,
                                            format_parity, miou_ok,
                                            reduced_agreement)
    assert MIN_PIXEL_AGREEMENT == 0.999
    assert [reduced_agreement(b, p) for b, p in (
        ('tensorrt', 'tf32'), ('tensorrt', 'fp16'), ('onnxruntime', 'int8'),
        ('tensorrt', 'int8'), ('openvino', 'bf16'), ('openvino', 'int8'),
        ('onnxruntime', 'fp32'))] == [0.98, 0.98, 0.98, 0.98, 0.998, 0.995,
                                      None]
    assert miou_ok('onnxruntime', 'int8', -3) is None  # reported only
    assert miou_ok('openvino', 'int8', -0.4) is True
    assert miou_ok('openvino', 'int8', -0.6) is False
    m = dict(images=12, pytorch_miou=50, backend_miou=49.4, miou_diff=-0.6,
             pixel_agreement=0.996, backend='openvino INT8', ok=False)
    assert format_miou(m).endswith('-> FAILED (needs a drop of at most 0.5 '
                                   'points)'), format_miou(m)
    p = dict(backend='tensorrt', input_shape=[1, 3, H, W],
             pixel_agreement=0.985, ok=True)
    line = format_parity(dict(p, precision='tf32'))
    assert line.startswith('parity tensorrt TF32 vs pytorch') and \
        line.endswith('-> OK (>= 98% pixels, TF32; see the mIoU)'), line
    line = format_parity(dict(p, precision='fp32', ok=False))
    assert line.startswith('parity tensorrt vs') and \
        '-> FAILED (needs >= 99.9% pixels' in line, line


def test_profile_shapes_from_configs_and_engines():
    """The input range of a TensorRT engine: from the deploy config's
    profile, or from what an engine reports (-1 on dynamic axes plus its
    profile's (min, opt, max))."""
    from mmengine.config import Config

    from rgpnet_mmseg.deploy.backends.tensorrt import (
        ShapeOutsideProfileError, check_input_shape, config_input_range,
        input_range)
    dyn = Config.fromfile(str(
        DEPLOY_DIR / 'segmentation_tensorrt_dynamic-512x1024-1024x2048.py'))
    lo, hi = (1, 3, 512, 1024), (1, 3, 1024, 2048)
    assert config_input_range(dyn) == (lo, hi)
    assert config_input_range(dyn, 'other') is None
    assert config_input_range(Config.fromfile(str(
        DEPLOY_DIR / 'segmentation_onnxruntime_dynamic.py'))) is None
    static = Config.fromfile(
        str(DEPLOY_DIR / 'segmentation_tensorrt_static-512x1024.py'))
    assert config_input_range(static) == (lo, lo)
    # as an engine reports them: get_tensor_shape, get_tensor_profile_shape
    assert input_range((-1, 3, -1, -1), [[1, 3, 64, 128], [2, 3, H, W],
                                         [4, 3, 256, 512]]) == (
        (1, 3, 64, 128), (4, 3, 256, 512))
    assert input_range((1, 3, H, W)) == ((1, 3, H, W), (1, 3, H, W))
    check_input_shape('input', (1, 3, 768, 1024), lo, hi)
    for shape in ((2, 3, 512, 1024), (1, 3, 128, 256), (3, 512, 1024)):
        with pytest.raises(ShapeOutsideProfileError) as err:
            check_input_shape('input', shape, lo, hi)
        assert str(err.value) == (
            f"Input 'input' of shape {'x'.join(map(str, shape))} is outside "
            "the engine's range 1x3x512x1024 .. 1x3x1024x2048")


def test_float16_graph_for_strongly_typed_tensorrt(deployed_static,
                                                   torch_model, tmp_path):
    """Where TensorRT has no BuilderFlag.FP16 it builds FP16 from a float16
    graph with float32 I/O: it type-checks and gives nearly the same
    labels (ONNX Runtime as a stand-in)."""
    from onnx import shape_inference

    from rgpnet_mmseg.deploy.backends.tensorrt import float16_graph
    from rgpnet_mmseg.deploy.verify import compare_outputs
    _, work_dir, _ = deployed_static
    fp16 = float16_graph(str(work_dir / 'end2end.onnx'))
    shape_inference.infer_shapes(fp16, check_type=True, strict_mode=True)
    inits = {i.name: i.data_type for i in fp16.graph.initializer}
    assert all(inits[n.input[1]] == onnx.TensorProto.FLOAT16
               for n in fp16.graph.node if n.op_type == 'Conv')
    assert fp16.graph.input[0].type.tensor_type.elem_type == \
        onnx.TensorProto.FLOAT
    onnx.save(fp16, str(tmp_path / 'fp16.onnx'))
    x = torch.randn(1, 3, H, W)
    p = compare_outputs(
        torch_logits(torch_model, x), ort_run(str(tmp_path / 'fp16.onnx'), x))
    assert p['pixel_agreement'] >= 0.98, p


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


def test_int8_without_calibration_is_refused(tmp_path, checkpoint,
                                             demo_img):
    """int8_mode would come out FP32/FP16 without calibration data: the
    tool refuses it in one line, before anything is built."""
    cfg = small_deploy_cfg(
        tmp_path / 'int8.py', 'segmentation_tensorrt_static-512x1024.py',
        backend_config='dict(common_config=dict(int8_mode=True))')
    proc = run_tool('tools/deploy.py', cfg, DEMO_CFG, checkpoint, demo_img,
                    '--work-dir', tmp_path / 'out', '--device', 'cuda')
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        f'error: {cfg}: INT8 needs calibration data: add calib_config=dict('
        "create_calib=True, calib_file='calib_data.h5')")
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'out').exists()


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


@pytest.mark.parametrize('mode', ['fp32', 'tf32', 'fp16'])
def test_tensorrt_deploy_tool(tmp_path, checkpoint, demo_img, demo_data_root,
                              mode):
    """FP32 (TF32 cleared, PyTorch without TF32) passes the 99.9 % gate;
    TF32 and FP16 their 98 % and report the mIoU."""
    _tensorrt_or_skip()
    fp16 = mode == 'fp16'
    base = ('segmentation_tensorrt-fp16_static-512x1024.py'
            if fp16 else 'segmentation_tensorrt_static-512x1024.py')
    shape = f'[1, 3, {H}, {W}]'
    common = ', common_config=dict(tf32_mode=True)' * (mode == 'tf32')
    cfg = small_deploy_cfg(
        tmp_path / 'trt.py',
        base,
        onnx_config=f'dict(input_shape=[{W}, {H}])',
        backend_config=(f'dict(model_inputs=[dict(input_shapes=dict(input='
                        f'dict(min_shape={shape}, opt_shape={shape}, '
                        f'max_shape={shape})))]{common})'))
    proc = run_tool('tools/deploy.py', cfg, DEMO_CFG, checkpoint, demo_img,
                    '--work-dir', tmp_path / 'out', '--device', 'cuda',
                    '--miou-max-images', 4, '--data-root', demo_data_root)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / 'out' / 'end2end.engine').is_file()
    assert 'parity tensorrt' in proc.stdout and '-> OK' in proc.stdout
    if mode != 'fp32':
        assert f'parity tensorrt {mode.upper()}' in proc.stdout
        assert 'mIoU on 4 val images' in proc.stdout
    from mmdeploy.apis import inference_model
    result = inference_model(DEMO_CFG, cfg,
                             [str(tmp_path / 'out' / 'end2end.engine')],
                             demo_img, 'cuda:0')
    assert result[0].pred_sem_seg.data.shape[-2:] == (H, W)


def test_tensorrt_dynamic_profile(tmp_path, torch_model, checkpoint,
                                  demo_img):
    _tensorrt_or_skip()
    from rgpnet_mmseg.deploy.backends.tensorrt import TRTWrapper, build_engine
    onnx_file = export(tmp_path, DEMO_CFG, checkpoint, demo_img)['onnx_file']
    engine = build_engine(
        onnx_file, str(tmp_path / 'dyn.engine'),
        dict(input=dict(
            min_shape=[1, 3, 64, 128],
            opt_shape=[1, 3, H, W],
            max_shape=[1, 3, 256, 512])))
    wrapper = TRTWrapper(engine)
    assert wrapper.input_range('input') == ((1, 3, 64, 128), (1, 3, 256, 512))
    for shape in ((1, 3, 64, 128), (1, 3, 192, 320)):
        x = torch.randn(*shape)
        out = wrapper({'input': x})['output'].cpu().numpy()
        assert_parity(torch_logits(torch_model, x), out)
    with pytest.raises(ValueError, match='outside the engine'):
        wrapper({'input': torch.randn(1, 3, 512, 512)})
