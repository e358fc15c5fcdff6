# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""INT8: mmdeploy's calibration file from the demo data, ONNX Runtime's
static quantization of the demo model, the INT8 deploy configs (ONNX
Runtime, TensorRT) - small inputs, real mmdeploy and onnxruntime."""
import h5py
import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from .conftest import CONFIG_DIR, randomize_bn

DEMO_CFG = str(CONFIG_DIR / 'rgpnet_r18_demo.py')
DEPLOY_DIR = CONFIG_DIR / 'deploy'
ORT_DYNAMIC = str(DEPLOY_DIR / 'segmentation_onnxruntime_dynamic.py')
H, W = 128, 256  # the demo images


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """The demo model, random weights, BN statistics away from 0/1."""
    import rgpnet_mmseg  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(DEMO_CFG).model)
    randomize_bn(model)
    path = tmp_path_factory.mktemp('int8_ckpt') / 'demo.pth'
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return str(path)


@pytest.fixture(scope='module')
def fp32_onnx(checkpoint, tmp_path_factory):
    from mmseg.apis import init_model

    from rgpnet_mmseg.deploy import export_segmentor
    path = str(tmp_path_factory.mktemp('int8_onnx') / 'fp32.onnx')
    export_segmentor(init_model(DEMO_CFG, checkpoint, device='cpu'), path,
                     (H, W), with_argmax=False, opset_version=17)
    return path


def test_quantize_demo_model(fp32_onnx, checkpoint, demo_data_root,
                             tmp_path):
    """4 calibration images from the val set; INT8 labels agree with FP32
    on all 12 val images; weights int8 with one scale per output channel."""
    from rgpnet_mmseg.deploy import onnxruntime_session
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
    fp32, q = onnxruntime_session(fp32_onnx), onnxruntime_session(int8)
    agree = [(fp32.run(None, {'input': x})[0].argmax(1) == q.run(
        None, {'input': x})[0].argmax(1)).mean()
             for x in read_calibration_data(all_val)]
    assert len(agree) == 12 and np.mean(agree) >= 0.98, agree
    with h5py.File(calib) as f:
        assert len(f['calib_data/end2end/input']) == 4
