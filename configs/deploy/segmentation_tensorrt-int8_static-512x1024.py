# TensorRT INT8, as mmdeploy's configs/mmseg/segmentation_tensorrt-int8_*:
# the FP32 config with int8_mode and fp16_mode (layers left unquantized run
# in FP16). An entropy calibrator (deploy.backends.tensorrt) reads calib_data.h5,
# the model config's val images through its test pipeline, written by
# tools/deploy.py (mmdeploy's create_calib_input_data) before the engine
# step (docs/int8.md).
_base_ = ['./segmentation_tensorrt_static-512x1024.py']
backend_config = dict(common_config=dict(fp16_mode=True, int8_mode=True))
calib_config = dict(create_calib=True, calib_file='calib_data.h5')
