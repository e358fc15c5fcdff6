# ONNX Runtime INT8, static 1024x2048 (H x W): the dynamic INT8 config
# (docs/int8.md) at one shape; calibration images resized to it.
_base_ = ['./segmentation_onnxruntime-int8_dynamic.py']
onnx_config = dict(input_shape=[2048,1024], dynamic_axes=None)
