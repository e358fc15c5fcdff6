# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""OpenVINO >= 2024 as mmdeploy's ``openvino`` backend
(rgpnet_mmseg.deploy.backends.openvino): the registration rule, the demo
model (random weights, 64x128) exported by mmdeploy's torch2onnx with our
deploy configs, converted by the manager and run by its wrapper against
ONNX Runtime on the same file (FP32, BF16, NNCF INT8 on calib_data.h5)."""
import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from .conftest import CONFIG_DIR, REPO_ROOT

if importlib.util.find_spec('openvino') is None:
    pytest.skip('openvino is not installed', allow_module_level=True)


def ov():
    """openvino, imported when a test runs (not at collection: `make test`
    runs these tests in a process of their own)."""
    import openvino
    return openvino


DEMO_CFG = str(CONFIG_DIR / 'rgpnet_r18_demo.py')
H, W = 64, 128

pytestmark = [pytest.mark.usefixtures('one_torch_thread'),
              pytest.mark.openvino]


def deploy_cfg(variant: str, shape: str = 'static-512x1024'):
    """Our deploy config ``segmentation_openvino{variant}_{shape}``, small
    static shapes, one OpenVINO thread."""
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG_DIR / 'deploy' /
                          f'segmentation_openvino{variant}_{shape}.py')
    cfg.backend_config.inference_num_threads = 1
    if shape.startswith('static'):
        cfg.onnx_config.input_shape = [W, H]
    return cfg


@pytest.fixture(scope='module')
def manager():
    """mmdeploy's ``openvino`` manager once rgpnet_mmseg.deploy is in: ours
    (mmdeploy's cannot run with OpenVINO >= 2024)."""
    from mmdeploy.backend.base import get_backend_manager

    import rgpnet_mmseg.deploy  # noqa: F401
    from rgpnet_mmseg.deploy.backends.openvino import OpenVINOManager
    assert get_backend_manager('openvino') is OpenVINOManager
    return OpenVINOManager


@pytest.fixture(scope='module')
def exported(tmp_path_factory, demo_data_root):
    """(work dir, checkpoint): the demo model (random weights, BN away from
    0/1, a classifier with several classes) exported static 64x128 with the
    INT8 config; ``calib_data.h5`` (4 val images) and ``all.h5`` (the 12
    val images: the test inputs) written by run_deploy's function."""
    from mmdeploy.apis import torch2onnx

    from rgpnet_mmseg.deploy.quantize import write_calibration_data
    from .deploy_helpers import demo_checkpoint
    work = tmp_path_factory.mktemp('openvino')
    ckpt = demo_checkpoint(work / 'demo.pth')
    cfg = deploy_cfg('-int8')
    torch2onnx(np.zeros((128, 256, 3), np.uint8), str(work), 'end2end.onnx',
               cfg, DEMO_CFG, ckpt, 'cpu')
    write_calibration_data(str(work / 'all.h5'), cfg, DEMO_CFG, ckpt)
    write_calibration_data(str(work / 'calib_data.h5'), cfg, DEMO_CFG, ckpt,
                           num_images=4)
    return work, ckpt


def inputs(work, name='all.h5'):
    from rgpnet_mmseg.deploy.quantize import read_calibration_data
    return list(read_calibration_data(str(work / name)))


def onnxruntime_outputs(onnx_file, xs):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(onnx_file), opts,
                                providers=['CPUExecutionProvider'])
    return np.concatenate([sess.run(None, {'input': x})[0] for x in xs])


def run(wrapper, xs):
    return np.concatenate([wrapper({'input': torch.from_numpy(x)})
                           ['output'].numpy() for x in xs])


def test_mmdeploy_unusable_rule():
    """Ours is registered only where mmdeploy 1.3.1's cannot run: an
    OpenVINO without ``inference_engine`` or without ``mo``."""
    from mmdeploy.backend.base import BACKEND_MANAGERS

    from rgpnet_mmseg.deploy.backends import openvino as o
    rule = o.mmdeploy_openvino_unusable
    assert rule(None, False, False) is None  # not installed
    assert rule('2023.0.2', True, True) is None  # openvino-dev with mo
    assert 'inference_engine' in rule('2024.0.0', False, True)
    assert 'mo' in rule('2023.3.0', True, False)
    assert 'inference_engine' in rule('2026.4.0', False, False) and \
        '`mo`' in rule('2026.4.0', False, False)
    version, has_ie, has_mo = o.installed_openvino()
    assert version == ov().__version__.split('-')[0]
    with pytest.raises(ImportError):  # what mmdeploy's wrapper imports
        from openvino.inference_engine import IECore  # noqa: F401
    assert not has_ie and o.mmdeploy_openvino_unusable() is not None
    assert o.register() and BACKEND_MANAGERS.find(
        'openvino') is o.OpenVINOManager
    assert not o.has_bf16({'avx2', 'avx512_vnni'}, ['FP32', 'BF16'])
    assert not o.has_bf16({'avx512_bf16'}, ['FP32', 'INT8'])
    assert o.has_bf16({'amx_bf16'}, ['BF16']) and o.has_bf16(None, ['BF16'])


def test_fp32_and_bf16_against_onnxruntime(exported, manager):
    """A static IR; FP32 = ONNX Runtime's logits (float rounding), BF16
    (where the CPU has it, else FP32) labels = FP32 on >= 99 %; the
    precision OpenVINO compiled is the config's."""
    from rgpnet_mmseg.deploy.backends.openvino import cpu_flags, has_bf16
    work, _ = exported
    xs = inputs(work)
    ref = onnxruntime_outputs(work / 'end2end.onnx', xs)
    bf16_cpu = has_bf16(cpu_flags(), ov().Core().get_property(
        'CPU', 'OPTIMIZATION_CAPABILITIES'))
    isa = {'avx2', 'avx512_vnni', 'avx512_bf16', 'amx_bf16', 'amx_int8'}
    print(f'\nCPU flags: {sorted(isa & (cpu_flags() or set()))}')
    for variant, hint in (('', ov().Type.f32), ('-bf16', ov().Type.bf16)):
        cfg = deploy_cfg(variant)
        files = manager.to_backend([str(work / 'end2end.onnx')], str(work),
                                   cfg)
        assert files == [str(work / 'end2end.xml')]
        assert (work / 'end2end.bin').is_file()
        wrapper = manager.build_wrapper(files, 'cpu', ['input'], ['output'],
                                        cfg)
        assert list(wrapper.compiled.input(0).shape) == [1, 3, H, W]
        got = wrapper.compiled.get_property('INFERENCE_PRECISION_HINT')
        assert got == (hint if bf16_cpu else ov().Type.f32), (variant, got)
        out = run(wrapper, xs)
        agree = (out.argmax(1) == ref.argmax(1)).mean()
        print(f'{variant or "fp32"}: max |OV - ORT| {np.abs(out - ref).max()}'
              f' (logits up to {np.abs(ref).max():.1f}), labels {agree:.2%}')
        if hint == ov().Type.f32:
            np.testing.assert_allclose(out, ref, rtol=0,
                                       atol=1e-5 * np.abs(ref).max())
        assert agree >= 0.99


def test_dynamic_config_gives_dynamic_ir(tmp_path, exported, manager):
    """The dynamic config's IR keeps N, H, W dynamic and runs two sizes as
    ONNX Runtime does."""
    from mmdeploy.apis import torch2onnx
    _, ckpt = exported
    cfg = deploy_cfg('', 'dynamic')
    torch2onnx(np.zeros((H, W, 3), np.uint8), str(tmp_path), 'end2end.onnx',
               cfg, DEMO_CFG, ckpt, 'cpu')
    files = manager.to_backend([str(tmp_path / 'end2end.onnx')],
                               str(tmp_path), cfg)
    shape = ov().Core().read_model(files[0]).input(0).get_partial_shape()
    assert shape.is_dynamic and shape[0].is_dynamic and shape[2].is_dynamic
    wrapper = manager.build_wrapper(files, 'cpu', ['input'], ['output'], cfg)
    xs = [np.random.default_rng(0).standard_normal(
        (1, 3, h, w), np.float32) for h, w in ((H, W), (96, 160))]
    for x in xs:
        ref = onnxruntime_outputs(tmp_path / 'end2end.onnx', [x])
        np.testing.assert_allclose(run(wrapper, [x]), ref, rtol=0,
                                   atol=1e-5 * np.abs(ref).max())


def test_nncf_int8_end_to_end(exported, manager):
    """The INT8 config: NNCF quantizes on the work dir's calib_data.h5 (the
    input's quantizer spans the calibration inputs' range); labels agree
    with ONNX Runtime FP32 on the 12 val images."""
    work, _ = exported
    cfg = deploy_cfg('-int8')
    files = manager.to_backend([str(work / 'end2end.onnx')], str(work), cfg)
    model = ov().Core().read_model(files[0])
    fq = [op for op in model.get_ordered_ops()
          if op.get_type_name() == 'FakeQuantize']
    first = next(op for op in fq if op.input_value(0).get_node()
                 .get_type_name() == 'Parameter')
    lo, hi = (float(first.input_value(i).get_node().get_data().min())
              for i in (1, 2))
    calib = np.concatenate(inputs(work, 'calib_data.h5'))
    span = np.abs(calib).max()  # symmetric ('performance' preset)
    assert len(fq) > 20 and abs(hi - span) <= 0.02 * span and \
        abs(lo + span) <= 0.02 * span, (lo, hi, calib.min(), calib.max())
    xs = inputs(work)
    ref = onnxruntime_outputs(work / 'end2end.onnx', xs)
    out = run(manager.build_wrapper(files, 'cpu', ['input'], ['output'], cfg),
              xs)
    agree = (out.argmax(1) == ref.argmax(1)).mean()
    print(f'\nINT8 (NNCF, 4 calibration images): labels {agree:.2%} = '
          'ONNX Runtime FP32 on 12 val images')
    assert agree >= 0.97
    (work / 'calib_data.h5').rename(work / 'moved.h5')
    try:
        with pytest.raises(FileNotFoundError, match='calib_data.h5'):
            manager.to_backend([str(work / 'end2end.onnx')], str(work), cfg)
    finally:
        (work / 'moved.h5').rename(work / 'calib_data.h5')


def test_missing_bin_and_corrupt_xml(tmp_path, exported, manager):
    from rgpnet_mmseg.deploy.backends.openvino import OpenVINOIRError
    work, _ = exported
    cfg = deploy_cfg('')
    xml = manager.to_backend([str(work / 'end2end.onnx')], str(tmp_path),
                             cfg)[0]
    (tmp_path / 'end2end.bin').unlink()
    with pytest.raises(OpenVINOIRError,
                       match=r'end2end\.bin missing\): '):
        manager.build_wrapper([xml], 'cpu', ['input'], ['output'], cfg)
    (tmp_path / 'end2end.xml').write_text('<net name="x" version="11"')
    with pytest.raises(OpenVINOIRError, match=r'end2end\.xml'):
        manager.build_wrapper([xml], 'cpu', ['input'], ['output'], cfg)
    with pytest.raises(ValueError, match='CPU'):
        manager.build_wrapper([xml], 'cuda:0', ['input'], ['output'], cfg)


def test_broken_or_missing_openvino_keeps_onnxruntime(tmp_path, exported):
    """An openvino whose import fails, or none: rgpnet_mmseg.deploy imports,
    ONNX Runtime runs, the OpenVINO manager says why it cannot."""
    work, _ = exported
    (tmp_path / 'openvino').mkdir()
    (tmp_path / 'openvino' / '__init__.py').write_text(
        "raise ImportError('libopenvino.so: cannot open shared object')")
    script = f'''import sys
sys.path.insert(0, {str(tmp_path)!r}) if sys.argv[1] == 'broken' else \\
    sys.modules.update(openvino=None)
import numpy as np, torch
import rgpnet_mmseg.deploy
from mmdeploy.backend.base import get_backend_manager
ort = get_backend_manager('onnxruntime').build_wrapper(
    [{str(work / 'end2end.onnx')!r}], 'cpu', ['input'], ['output'])
print(ort({{'input': torch.zeros(1, 3, {H}, {W})}})['output'].shape)
try:
    get_backend_manager('openvino').to_backend([], '.', dict(
        backend_config=dict(type='openvino')))
except ImportError as err:
    print('ImportError:', err)'''
    for case, why in (('broken', 'cannot be imported: ImportError'),
                      ('missing', 'OpenVINO is not installed')):
        proc = subprocess.run([sys.executable, '-c', script, case],
                              capture_output=True, text=True, cwd=REPO_ROOT,
                              env=dict(os.environ, OMP_NUM_THREADS='1'))
        assert proc.returncode == 0, proc.stderr[-2000:]
        lines = proc.stdout.splitlines()
        assert lines[-2] == f'torch.Size([1, 19, {H}, {W}])', proc.stdout
        assert lines[-1].startswith('ImportError:') and why in lines[-1], \
            lines[-1]


def test_deploy_tool_to_openvino_fp32(tmp_path, exported, demo_data_root):
    """tools/deploy.py to OpenVINO FP32 (parity with PyTorch on logits and
    labels), then the deployed dir through build_segmenter: the labels of
    the demo val images = ONNX Runtime FP32's on >= 99.9 % of pixels."""
    from rgpnet_mmseg.apis import build_segmenter
    from rgpnet_mmseg.apis.media import list_images, read_image
    from .deploy_helpers import export
    _, ckpt = exported
    cfg = tmp_path / 'ov.py'
    cfg.write_text(
        f"_base_ = [{str(CONFIG_DIR / 'deploy' / 'segmentation_openvino_static-512x1024.py')!r}]\n"  # noqa: E501
        f"onnx_config = dict(input_shape=[{W}, {H}])\n"
        "backend_config = dict(inference_num_threads=1)\n")
    images = list_images(str(demo_data_root / 'leftImg8bit' / 'val'))
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'deploy.py'), str(cfg),
         DEMO_CFG, ckpt, images[0], '--work-dir', str(tmp_path / 'ov')],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert 'parity openvino vs pytorch' in proc.stdout and '-> OK' in \
        proc.stdout, proc.stdout
    assert (tmp_path / 'ov' / 'end2end.xml').is_file()
    export(tmp_path / 'ort', DEMO_CFG, ckpt, images[0],
           deploy_cfg_ort(), with_argmax=False)
    ov_seg = build_segmenter(str(tmp_path / 'ov'), num_threads=1)
    ort_seg = build_segmenter(str(tmp_path / 'ort'), num_threads=1)
    assert ov_seg.backend == 'openvino'
    same = total = 0
    for path in images:
        a, b = ov_seg(read_image(path)), ort_seg(read_image(path))
        same, total = same + int((a == b).sum()), total + a.size
    assert same / total >= 0.999


def deploy_cfg_ort():
    from .deploy_helpers import deploy_cfg
    return deploy_cfg('segmentation_onnxruntime_static-512x1024.py',
                      shape=(H, W), backend_config=dict(
                          intra_op_num_threads=1))
