# OpenVINO INT8, dynamic N, H, W: NNCF post-training quantization of the
# IR (`quantization`: nncf.quantize's keywords) on calib_data.h5, the inputs
# ONNX Runtime and TensorRT INT8 calibrate on (at their own size;
# tools/deploy.py --calib-*, docs/int8.md). The ops left in floating point
# run BF16 where the CPU has it (issue 23, AMX: 36.6 ms; 'f32': 50.8 ms).
_base_ = ['./segmentation_openvino_dynamic.py']
backend_config = dict(
    inference_precision_hint='bf16', quantization=dict(preset='performance'))
calib_config = dict(create_calib=True, calib_file='calib_data.h5')
