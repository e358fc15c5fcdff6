# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""INT8: mmdeploy's calibration file from the demo data, ONNX Runtime's
static quantization of the demo model, the INT8 deploy configs (ONNX
Runtime, TensorRT) - small inputs, real mmdeploy and onnxruntime."""
import re

import h5py
import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from .conftest import CONFIG_DIR, load_tool
from .deploy_helpers import demo_checkpoint, deploy_cfg, export, ort_run

DEMO_CFG = str(CONFIG_DIR / 'rgpnet_r18_demo.py')
DEPLOY_DIR = CONFIG_DIR / 'deploy'
ORT_DYNAMIC = str(DEPLOY_DIR / 'segmentation_onnxruntime_dynamic.py')
H, W = 128, 256  # the demo images


pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The demo model, random weights, BN statistics away from 0/1, a
    classifier that gives several classes with boundaries (not one)."""
    return demo_checkpoint(tmp_path_factory.mktemp('int8_ckpt') / 'demo.pth')


@pytest.fixture(scope='module')
def fp32_onnx(checkpoint, demo_data_root, tmp_path_factory):
    """The demo model's logits graph at the demo images' size, opset 17,
    by the one export path (run_deploy: mmdeploy's torch2onnx)."""
    cfg = deploy_cfg(shape=(H, W), onnx_config=dict(opset_version=17))
    img = next((demo_data_root / 'leftImg8bit' / 'val').rglob('*.png'))
    return export(tmp_path_factory.mktemp('int8_onnx'), DEMO_CFG, checkpoint,
                  str(img), cfg, with_argmax=False)['onnx_file']


def test_quantize_demo_model(fp32_onnx, checkpoint, demo_data_root,
                             tmp_path):
    """4 calibration images from the val set; INT8 labels agree with FP32
    on all 12 val images; weights int8 with one scale per output channel."""
    from rgpnet_mmseg.deploy.quantize import (quantize_onnx,
                                              read_calibration_data,
                                              write_calibration_data)
    calib = write_calibration_data(str(tmp_path / 'calib.h5'), ORT_DYNAMIC,
                                   DEMO_CFG, checkpoint, num_images=4)
    int8 = quantize_onnx(fp32_onnx, str(tmp_path / 'int8.onnx'), calib)
    graph = onnx.load(int8).graph
    convs = [n for n in graph.node if n.op_type == 'QLinearConv']
    assert convs and not any(n.op_type == 'Conv' for n in graph.node)
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in convs:  # x, x_scale, x_zp, w, w_scale, ...
        w, w_scale = inits[node.input[3]], inits[node.input[4]]
        assert w.dtype == np.int8 and w_scale.shape == (w.shape[0], )
    all_val = str(tmp_path / 'all.h5')
    write_calibration_data(all_val, ORT_DYNAMIC, DEMO_CFG, checkpoint)
    inputs = [torch.from_numpy(x) for x in read_calibration_data(all_val)]
    agree = [(ort_run(fp32_onnx, x).argmax(1) == ort_run(int8, x).argmax(1)
              ).mean() for x in inputs]
    assert len(agree) == 12 and np.mean(agree) >= 0.98, agree
    with h5py.File(calib) as f:
        assert len(f['calib_data/end2end/input']) == 4


def small_deploy_cfg(path, base, **overrides):
    """A deploy config inheriting one of configs/deploy/, a few keys set."""
    lines = [f'_base_ = [{str(DEPLOY_DIR / base)!r}]']
    lines += [f'{key} = {value}' for key, value in overrides.items()]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_int8_deploy_configs():
    """ONNX Runtime and TensorRT INT8 configs: valid shapes, INT8, one
    calibration file (mmdeploy's name), the FP32 twin's shapes."""
    from mmdeploy.utils import get_calib_filename
    from mmengine.config import Config

    from rgpnet_mmseg.deploy import check_deploy_config
    from rgpnet_mmseg.deploy.verify import deploy_precision
    paths = sorted(p for b in ('onnxruntime', 'tensorrt')
                   for p in DEPLOY_DIR.glob(f'segmentation_{b}-int8*.py'))
    assert len(paths) == 6
    for path in paths:
        cfg = Config.fromfile(str(path))
        check_deploy_config(cfg, path.name)
        assert deploy_precision(cfg) == 'int8', path.name
        assert get_calib_filename(cfg) == 'calib_data.h5'
        twin = Config.fromfile(str(path).replace(
            'tensorrt-int8', 'tensorrt').replace(
                'onnxruntime-int8', 'onnxruntime'))
        assert deploy_precision(twin) == 'fp32'
        assert cfg.onnx_config.get('input_shape') == twin.onnx_config.get(
            'input_shape')
        if 'onnxruntime' in path.name:
            assert cfg.onnx_config.opset_version == 17
            assert cfg.backend_config.quantization.per_channel
            assert bool(cfg.onnx_config.get('dynamic_axes')) == (
                'dynamic' in path.name)
        else:
            assert cfg.backend_config.model_inputs == \
                twin.backend_config.model_inputs


def expected_inputs(images, hw):
    """The model inputs of ``images`` computed without mmseg/mmdeploy:
    bilinear resize to ``hw``, BGR -> RGB, the demo config's mean/std."""
    import mmcv
    from mmengine.config import Config
    pre = Config.fromfile(DEMO_CFG).model.data_preprocessor
    out = []
    for path in images:
        img = mmcv.imresize(mmcv.imread(str(path)), hw[::-1])[..., ::-1]
        img = (img - np.array(pre.mean)) / np.array(pre.std)
        out.append(img.transpose(2, 0, 1)[None].astype(np.float32))
    return out


def test_tensorrt_int8_calibration_on_cpu(tmp_path, checkpoint,
                                          demo_data_root):
    """Without TensorRT the export and mmdeploy's calibration file are
    made on the CPU (the val images through the test pipeline, resized to
    the static shape, data preprocessor applied), then one-line error."""
    from rgpnet_mmseg.deploy.backends.tensorrt import \
        tensorrt_unavailable_reason
    from rgpnet_mmseg.deploy.convert import DeployError, run_deploy
    from rgpnet_mmseg.deploy.quantize import read_calibration_data
    if not tensorrt_unavailable_reason():
        pytest.skip('TensorRT is here: the engine would be built')
    cfg = small_deploy_cfg(
        tmp_path / 'trt.py', 'segmentation_tensorrt-int8_static-512x1024.py',
        onnx_config='dict(input_shape=[128, 64])',
        backend_config='dict(model_inputs=[dict(input_shapes=dict(input='
        'dict(min_shape=[1, 3, 64, 128], opt_shape=[1, 3, 64, 128], '
        'max_shape=[1, 3, 64, 128])))])')
    val = sorted((demo_data_root / 'leftImg8bit' / 'val').rglob('*.png'))
    out = tmp_path / 'out'
    with pytest.raises(DeployError) as err:
        run_deploy(cfg, DEMO_CFG, checkpoint, str(val[0]), str(out),
                   dump_info=False, calib=dict(num_images=3))
    assert str(err.value) == (
        f'{cfg} asks for TensorRT: {tensorrt_unavailable_reason()}; the '
        f'ONNX model and calib_data.h5 are in {out}')
    assert (out / 'end2end.onnx').is_file()
    with h5py.File(out / 'calib_data.h5') as f:  # mmdeploy's layout
        assert sorted(f['calib_data/end2end/input']) == ['0', '1', '2']
    got = list(read_calibration_data(str(out / 'calib_data.h5')))
    want = expected_inputs(val[:3], (64, 128))
    assert len(got) == 3 and all(g.shape == (1, 3, 64, 128) for g in got)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-4)


def test_deploy_tool_onnxruntime_int8(tmp_path, checkpoint, demo_data_root,
                                      capsys):
    """tools/deploy.py with the ONNX Runtime INT8 config: calibration on an
    image folder (first 2), FP32 model kept, parity and mIoU by default;
    tools/infer.py's segmenter runs the work dir; a missing or empty
    calibration folder is refused before any work."""
    from mmseg.apis import inference_model, init_model

    from rgpnet_mmseg.apis import build_segmenter
    cfg = small_deploy_cfg(
        tmp_path / 'ort.py',
        'segmentation_onnxruntime-int8_static-512x1024.py',
        onnx_config=f'dict(input_shape=[{W}, {H}])',
        backend_config='dict(intra_op_num_threads=1)')
    val = sorted((demo_data_root / 'leftImg8bit' / 'val').rglob('*.png'))
    train = demo_data_root / 'leftImg8bit' / 'train'
    deploy, out = load_tool('deploy'), tmp_path / 'out'
    args = [cfg, DEMO_CFG, checkpoint, str(val[0]), '--work-dir', str(out),
            '--miou-max-images', '3', '--log-level', 'WARNING']
    assert deploy.main(args + ['--calib-image-dir', str(train),
                               '--calib-num-images', '2']) == 0
    log = capsys.readouterr().out
    assert re.search(r'parity onnxruntime INT8 vs pytorch .* -> OK', log)
    assert 'mIoU on 3 val images: pytorch' in log, log
    ops = {n: {x.op_type for x in onnx.load(str(out / n)).graph.node}
           for n in ('end2end.onnx', 'end2end-fp32.onnx')}
    assert 'QLinearConv' in ops['end2end.onnx'] - ops['end2end-fp32.onnx']
    assert 'Conv' in ops['end2end-fp32.onnx'] - ops['end2end.onnx']
    with h5py.File(out / 'calib_data.h5') as f:
        got = [f[f'calib_data/end2end/input/{i}'][...] for i in range(2)]
        assert len(f['calib_data/end2end/input']) == 2
    for g, w in zip(got, expected_inputs(sorted(train.rglob('*.png'))[:2],
                                         (H, W))):
        np.testing.assert_allclose(g, w, atol=1e-4)
    labels = build_segmenter(str(out), num_threads=1)(str(val[1]))
    ref = inference_model(init_model(DEMO_CFG, checkpoint, device='cpu'),
                          str(val[1])).pred_sem_seg.data[0].numpy()
    assert labels.shape == ref.shape and (labels == ref).mean() >= 0.98
    empty = tmp_path / 'empty'
    empty.mkdir()
    for folder, error in ((tmp_path / 'gone', 'Calibration image folder '
                           'not found: '), (empty, 'No images (')):
        assert deploy.main(args[:5] + [str(tmp_path / 'o2'),
                                       '--calib-image-dir',
                                       str(folder)]) == 1
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
            f'error: {error}')
        assert not (tmp_path / 'o2' / 'end2end.onnx').exists()


def test_miou_path_resizes_logits_as_pytorch(tmp_path, checkpoint):
    """The backend comparison at a static shape other than the images'
    (here 4x): FP32 ONNX Runtime gives PyTorch's labels, because both
    resize logits before the argmax (mmdeploy's pack_result resizes
    labels: ~1-4 % of the pixels differ)."""
    from mmdeploy.apis import torch2onnx

    from rgpnet_mmseg.deploy.convert import load_configs
    from rgpnet_mmseg.deploy.verify import evaluate_backend_miou
    deploy_cfg, model_cfg = load_configs(
        small_deploy_cfg(tmp_path / 'ort.py',
                         'segmentation_onnxruntime_static-512x1024.py',
                         onnx_config=f'dict(input_shape=[{4 * W}, {4 * H}])'),
        DEMO_CFG)
    torch2onnx(np.zeros((H, W, 3), np.uint8), str(tmp_path), 'e.onnx',
               deploy_cfg, model_cfg, checkpoint, 'cpu')
    m = evaluate_backend_miou(model_cfg, deploy_cfg, checkpoint,
                              [str(tmp_path / 'e.onnx')], max_images=2)
    assert m['pixel_agreement'] >= 0.999 and abs(m['miou_diff']) < 0.01, m


def test_benchmark_int8_rows(tmp_path, capsys, checkpoint, demo_data_root):
    """tools/benchmark.py deploy: one INT8 row per variant beside FP32
    ONNX Runtime, calibrated on the demo val images; nodes kept FP32."""
    rc = load_tool('benchmark').main([
        'deploy', DEMO_CFG, '--checkpoint', checkpoint, '--shape', '64',
        '128', '--repeats', '1',
        '--warmup', '0', '--threads', '1', '--work-dir', str(tmp_path),
        '--backend', 'onnxruntime', 'onnxruntime-int8', '--int8',
        'QOperator/Percentile', 'QDQ/MinMax/Conv[-1],Resize'])
    out = capsys.readouterr().out
    assert rc == 0 and 'avx' in out.split('\n| backend')[0], out
    rows = [r for r in out.splitlines() if r.startswith('| onnxruntime')]
    assert [r.split(' | ')[:2] for r in rows] == [
        ['| onnxruntime', 'fp32'],
        ['| onnxruntime-int8 QOperator/Percentile', 'int8'],
        ['| onnxruntime-int8 QDQ/MinMax/Conv[-1],Resize', 'int8']]
    assert all('= FP32 ORT on 12 val images' in r for r in rows[1:])
    graph = onnx.load(str(tmp_path / 'onnxruntime-int8_1' /
                          'end2end.onnx')).graph
    last_conv = [n for n in graph.node if n.op_type == 'Conv'][-1]
    init = {i.name for i in graph.initializer}
    assert last_conv.name == '/conv_seg/Conv' and \
        last_conv.input[1] in init  # its FP32 weight, no DequantizeLinear
    resize = next(n for n in graph.node if n.op_type == 'Resize')
    producers = {o: n.op_type for n in graph.node for o in n.output}
    assert producers[resize.input[0]] != 'DequantizeLinear'
