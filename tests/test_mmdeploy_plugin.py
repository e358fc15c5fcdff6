# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""rgpnet_mmseg.deploy only adds to mmdeploy: its backend managers stay
mmdeploy's (but where mmdeploy's cannot run with the installed library),
and an mmseg model of mmseg's own deploys through mmdeploy's own API as
without the plugin: mmdeploy's ORTWrapper, mmdeploy's test double, the
outputs of an onnxruntime session opened directly on the file."""
import logging

import numpy as np
import pytest
import torch

import rgpnet_mmseg.deploy  # noqa: F401  (the plugin, imported)
from .deploy_helpers import ort_run

TINY_FCN = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.7, 116.3,
                                                             103.5],
                           std=[58.4, 57.1, 57.4], bgr_to_rgb=True),
    backbone=dict(type='ResNetV1c', depth=18, base_channels=8,
                  stem_channels=8, num_stages=4, out_indices=(3, ),
                  norm_cfg=dict(type='BN')),
    decode_head=dict(type='FCNHead', in_channels=64, channels=16,
                     num_convs=1, num_classes=5, in_index=0,
                     concat_input=False, norm_cfg=dict(type='BN'),
                     loss_decode=dict(type='CrossEntropyLoss')))
TEST_PIPELINE = [dict(type='LoadImageFromFile'),
                 dict(type='Resize', scale=(96, 64), keep_ratio=False),
                 dict(type='PackSegInputs')]
# an mmdeploy deploy config as mmdeploy's own (model_type 'end2end')
MMDEPLOY_ORT = dict(
    onnx_config=dict(type='onnx', export_params=True,
                     keep_initializers_as_inputs=False, opset_version=11,
                     save_file='end2end.onnx', input_names=['input'],
                     output_names=['output'], input_shape=None,
                     optimize=False, dynamic_axes={
                         'input': {0: 'batch', 2: 'height', 3: 'width'},
                         'output': {0: 'batch', 2: 'height', 3: 'width'}}),
    codebase_config=dict(type='mmseg', task='Segmentation',
                         with_argmax=True),
    backend_config=dict(type='onnxruntime'))


def test_backend_managers_are_mmdeploys():
    """Every manager is the class mmdeploy registered; TensorRT is ours
    only with TensorRT >= 10 installed (none here: mmdeploy's), OpenVINO
    only where it lacks what mmdeploy's needs (OpenVINO >= 2024)."""
    from mmdeploy.backend.base import get_backend_manager
    from mmdeploy.backend.onnxruntime.backend_manager import \
        ONNXRuntimeManager
    from mmdeploy.backend.openvino.backend_manager import OpenVINOManager
    from mmdeploy.backend.tensorrt.backend_manager import TensorRTManager

    from rgpnet_mmseg.deploy.backends import openvino, tensorrt
    assert get_backend_manager('onnxruntime') is ONNXRuntimeManager
    version = tensorrt.installed_tensorrt_version()
    expected = tensorrt.TensorRTManager if version and int(
        version.split('.')[0]) >= 10 else TensorRTManager
    assert get_backend_manager('tensorrt') is expected
    version, inference_engine, mo = openvino.installed_openvino()
    expected = openvino.OpenVINOManager if version and not (
        inference_engine and mo) else OpenVINOManager
    assert get_backend_manager('openvino') is expected


def test_tensorrt_rule_on_the_version():
    from rgpnet_mmseg.deploy.backends.tensorrt import \
        mmdeploy_tensorrt_unusable
    assert mmdeploy_tensorrt_unusable(None) is None  # not installed
    assert mmdeploy_tensorrt_unusable('8.6.1') is None
    for version in ('10.0.1', '10.13.3.9', '11.0.0'):
        assert 'mmdeploy#2758' in mmdeploy_tensorrt_unusable(version)


def test_register_own_backend_only_with_a_reason():
    from mmdeploy.backend.base import BACKEND_MANAGERS, get_backend_manager

    from rgpnet_mmseg.deploy.backends import register_own_backend
    from rgpnet_mmseg.deploy.backends.tensorrt import TensorRTManager
    original = get_backend_manager('tensorrt')
    assert not register_own_backend('tensorrt', TensorRTManager, None)
    assert get_backend_manager('tensorrt') is original
    try:
        from mmdeploy.utils import get_root_logger
        said = []
        handler = logging.Handler()
        handler.emit = lambda record: said.append(record.getMessage())
        get_root_logger().addHandler(handler)
        try:
            for _ in range(2):  # idempotent, said once
                assert register_own_backend('tensorrt', TensorRTManager,
                                            'TensorRT 10.9')
        finally:
            get_root_logger().removeHandler(handler)
        assert get_backend_manager('tensorrt') is TensorRTManager
        said = [m for m in said if 'cannot run here' in m]
        assert said == ["mmdeploy's tensorrt backend cannot run here "
                        "(TensorRT 10.9): using rgpnet_mmseg's"]
    finally:
        BACKEND_MANAGERS.register('tensorrt')(original)


@pytest.fixture(scope='module')
def fcn_deployed(tmp_path_factory, demo_data_root):
    """mmseg's FCN on a tiny ResNet, exported by mmdeploy's torch2onnx
    with mmdeploy's own kind of deploy config (no codebase module)."""
    from mmdeploy.apis import torch2onnx
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    tmp = tmp_path_factory.mktemp('fcn')
    model_cfg = Config(dict(model=TINY_FCN, test_pipeline=TEST_PIPELINE,
                            default_scope='mmseg'))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    torch.save({'state_dict': MODELS.build(model_cfg.model).state_dict()},
               tmp / 'fcn.pth')
    img = str(next((demo_data_root / 'leftImg8bit' / 'val').rglob('*.png')))
    deploy_cfg = Config(MMDEPLOY_ORT)
    torch2onnx(img, str(tmp), 'end2end.onnx', deploy_cfg, model_cfg,
               str(tmp / 'fcn.pth'), 'cpu')
    return model_cfg, deploy_cfg, str(tmp / 'end2end.onnx'), img


def test_mmseg_model_gets_mmdeploys_ortwrapper(fcn_deployed):
    from mmdeploy.apis.utils import build_task_processor
    from mmdeploy.backend.onnxruntime.wrapper import ORTWrapper
    from mmdeploy.codebase.mmseg.deploy.segmentation_model import \
        End2EndModel
    model_cfg, deploy_cfg, onnx_file, img = fcn_deployed
    task = build_task_processor(model_cfg, deploy_cfg, 'cpu')
    model = task.build_backend_model([onnx_file])
    assert type(model) is End2EndModel
    assert type(model.wrapper) is ORTWrapper
    x = torch.randn(1, 3, 64, 96)
    out = model.wrapper({'input': x})['output'].numpy()
    np.testing.assert_array_equal(out, ort_run(onnx_file, x))
    labels = model.test_step(task.create_input(img)[0])[0]
    assert labels.pred_sem_seg.data.shape[0] == 1


def test_mmdeploys_test_double_takes_effect(fcn_deployed):
    """mmdeploy's own tests swap ORTWrapper for a double; it must be the
    wrapper the backend model calls."""
    from mmdeploy.apis.utils import build_task_processor
    from mmdeploy.backend.onnxruntime.wrapper import ORTWrapper
    from mmdeploy.utils.test import SwitchBackendWrapper
    model_cfg, deploy_cfg, onnx_file, img = fcn_deployed
    planted = torch.randint(0, 5, (1, 1, 64, 96))
    with SwitchBackendWrapper(ORTWrapper) as wrapper:
        wrapper.set(outputs={'output': planted})
        task = build_task_processor(model_cfg, deploy_cfg, 'cpu')
        model = task.build_backend_model(['not-read.onnx'])
        data, _ = task.create_input(img, input_shape=(96, 64))
        sample = model.test_step(data)[0]
    expected = torch.nn.functional.interpolate(
        planted.float(), sample.ori_shape, mode='nearest').long()[0]
    assert torch.equal(sample.pred_sem_seg.data, expected)
