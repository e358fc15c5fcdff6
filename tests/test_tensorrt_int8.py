# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""TensorRT INT8 (rgpnet_mmseg.deploy.backends.tensorrt): the builder's
precision from the deploy configs, the calibration batches from an HDF5 file
in mmdeploy's layout, the missing-file error of ``to_backend``; an INT8
engine where TensorRT and a GPU exist (skipped otherwise)."""
import numpy as np
import pytest
import torch
from mmengine.config import Config

from rgpnet_mmseg.deploy.backends.tensorrt import (TensorRTManager,
                                                   builder_precision,
                                                   calibration_batches)
from rgpnet_mmseg.deploy.checks import precision_mode
from .conftest import CONFIG_DIR, randomize_bn
from .deploy_helpers import deploy_cfg, export, graph_logits

DEPLOY_DIR = CONFIG_DIR / 'deploy'
INT8_CONFIGS = sorted(DEPLOY_DIR.glob('segmentation_tensorrt-int8_*.py'))
INT8_FP16 = dict(fp16_flag=True, strongly_typed=False, tf32=True)


def write_calib(path, batches, group='calib_data/end2end/input'):
    """An HDF5 file as mmdeploy's ``create_calib_input_data`` writes it."""
    import h5py
    with h5py.File(path, 'w') as f:
        group = f.create_group(group)
        for i, x in enumerate(batches):
            group.create_dataset(str(i), data=x)


def test_int8_precision():
    """``int8_mode`` is INT8 with the FP16 fallback of mmdeploy's configs
    (``fp16_mode`` too), the FP16 flag even where strong typing would be
    chosen for FP16 alone; refused in one line without implicit INT8."""
    mmdeploy_int8 = dict(fp16_mode=True, int8_mode=True,
                         max_workspace_size=1 << 30)
    assert precision_mode(mmdeploy_int8) == 'int8'
    assert builder_precision(mmdeploy_int8, True) == INT8_FP16
    assert builder_precision(dict(int8_mode=True), True) == dict(
        INT8_FP16, fp16_flag=False)
    assert builder_precision(dict(mmdeploy_int8, fp16_typing='strong'),
                             True) == INT8_FP16
    assert builder_precision(mmdeploy_int8, False)['fp16_flag'] is False
    with pytest.raises(ValueError) as err:
        builder_precision(mmdeploy_int8, True, has_int8=False)
    assert '\n' not in str(err.value) and 'no implicit INT8 calibration' in \
        str(err.value) and "quant_format='QDQ'" in str(err.value)
    assert INT8_CONFIGS
    for cfg in INT8_CONFIGS:
        common = Config.fromfile(str(cfg)).backend_config.common_config
        assert precision_mode(common) == 'int8', cfg.name
        assert builder_precision(common, True) == dict(
            INT8_FP16, fp16_flag=bool(common.get('fp16_mode'))), cfg.name


def test_calibration_batches_tile_and_crop(tmp_path):
    """Each stored batch, float32, tiled and cropped to the opt shape as
    mmdeploy's HDF5Calibrator does: element [n, c, h, w] of the result is
    element [n % N, c % C, h % H, w % W] of the stored array."""
    rng = np.random.default_rng(0)
    stored = [rng.normal(size=(1, 3, 4, 6)).astype(np.float64)
              for _ in range(3)]
    write_calib(tmp_path / 'calib.h5', stored)
    for opt in ((2, 3, 6, 8), (1, 3, 4, 6), (1, 3, 2, 5)):
        batches = list(calibration_batches(str(tmp_path / 'calib.h5'), opt))
        assert len(batches) == 3
        idx = np.ix_(*(np.arange(s) % d for s, d in zip(opt, (1, 3, 4, 6))))
        for got, x in zip(batches, stored):
            assert got.dtype == np.float32 and got.flags['C_CONTIGUOUS']
            np.testing.assert_array_equal(got, x[idx].astype(np.float32))


def test_calibration_file_errors(tmp_path):
    """Checked when called, before TensorRT is imported."""
    write_calib(tmp_path / 'other.h5', [np.zeros((1, 3, 2, 2))],
                'calib_data/end2end/image')
    with pytest.raises(ValueError, match='holds no calibration inputs'):
        calibration_batches(str(tmp_path / 'other.h5'), (1, 3, 2, 2))
    with pytest.raises(FileNotFoundError, match='run tools/deploy.py'):
        calibration_batches(str(tmp_path / 'none.h5'), (1, 3, 2, 2))


def test_to_backend_needs_the_calibration_file(tmp_path):
    """INT8: the engine is calibrated on work_dir's calib_config.calib_file;
    without it ``to_backend`` stops first, in one line (no GPU needed)."""
    cfg = Config(dict(
        backend_config=dict(type='tensorrt', common_config=dict(
            fp16_mode=True, int8_mode=True)),
        calib_config=dict(create_calib=True, calib_file='calib_data.h5')))
    with pytest.raises(FileNotFoundError) as err:
        TensorRTManager.to_backend(['end2end.onnx'], str(tmp_path), cfg)
    assert str(err.value) == (
        'INT8 calibration file not found: '
        f'{tmp_path / "calib_data.h5"} (run tools/deploy.py, which writes it)')
    cfg.calib_config.create_calib = False  # get_calib_filename: None
    with pytest.raises(ValueError, match='int8_mode needs a calibration'):
        TensorRTManager.to_backend(['end2end.onnx'], str(tmp_path), cfg)


def test_tensorrt_int8_engine(tmp_path, demo_data_root):
    """GPU: an INT8 engine of the demo model (random weights, exported by
    run_deploy on the CPU), calibrated on random-normal batches like its
    input, runs and mostly agrees with the FP32 logits of the graph (a
    loose bound: INT8 of a random network)."""
    pytest.importorskip('tensorrt', reason='TensorRT is not installed '
                        '(needs an NVIDIA GPU)')
    if not torch.cuda.is_available():
        pytest.skip('TensorRT needs a CUDA GPU')
    from mmseg.apis import init_model

    from rgpnet_mmseg.deploy.backends.tensorrt import TRTWrapper, build_engine
    from rgpnet_mmseg.deploy.verify import compare_outputs
    demo_cfg = str(CONFIG_DIR / 'rgpnet_r18_demo.py')
    model = init_model(demo_cfg, device='cpu')
    randomize_bn(model)
    checkpoint, shape = str(tmp_path / 'm.pth'), (1, 3, 64, 128)
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, checkpoint)
    img = next((demo_data_root / 'leftImg8bit' / 'val').rglob('*.png'))
    onnx_file = export(tmp_path / 'onnx', demo_cfg, checkpoint, str(img),
                       deploy_cfg(shape=shape[2:]),
                       with_argmax=False)['onnx_file']
    g = torch.Generator().manual_seed(0)
    write_calib(tmp_path / 'calib.h5',
                [torch.randn(shape, generator=g).numpy() for _ in range(8)])
    engine = build_engine(onnx_file, str(tmp_path / 'm.engine'), None,
                          dict(fp16_mode=True, int8_mode=True), 'cuda:0',
                          str(tmp_path / 'calib.h5'))
    x = torch.randn(shape, generator=g)
    out = TRTWrapper(engine)({'input': x})['output'].float().cpu().numpy()
    ref = graph_logits(model.eval(), x)
    p = compare_outputs(ref, out)
    assert out.shape == ref.shape and np.isfinite(out).all()
    assert p['pixel_agreement'] >= 0.5, p
