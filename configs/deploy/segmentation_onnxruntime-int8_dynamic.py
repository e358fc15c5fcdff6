# ONNX Runtime INT8, dynamic N, H, W (docs/int8.md): the FP32 export
# (opset 17: per-channel quantization needs opset >= 13) is kept as
# end2end-fp32.onnx, ONNX Runtime's static quantization (int8 weights per
# channel, uint8 activations) is written as end2end.onnx. Calibration: the
# val images of the model config through its test pipeline (mmdeploy's
# create_calib_input_data -> calib_data.h5; tools/deploy.py --calib-*).
_base_ = ['./segmentation_onnxruntime_dynamic.py']
onnx_config = dict(opset_version=17)
calib_config = dict(create_calib=True, calib_file='calib_data.h5')
backend_config = dict(
    quantization=dict(
        quant_format='QOperator',
        calibrate_method='Percentile',
        per_channel=True,
        exclude_nodes=[]))
