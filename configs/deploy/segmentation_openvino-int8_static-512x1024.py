# OpenVINO INT8, static 512x1024: NNCF post-training quantization of the
# IR (`quantization`: nncf.quantize's keywords) on calib_data.h5, the inputs
# ONNX Runtime and TensorRT INT8 calibrate on (resized to 512x1024;
# tools/deploy.py --calib-*, docs/int8.md). The ops left in floating point
# run BF16 where the CPU has it (issue 23, AMX: 36.6 ms; 'f32': 50.8 ms).
_base_ = ['./segmentation_openvino_static-512x1024.py']
backend_config = dict(
    inference_precision_hint='bf16', quantization=dict(preset='performance'))
calib_config = dict(create_calib=True, calib_file='calib_data.h5')
