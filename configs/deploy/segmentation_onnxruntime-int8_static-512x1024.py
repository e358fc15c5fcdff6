# ONNX Runtime INT8, static 512x1024 (H x W): the dynamic INT8 config
# (docs/int8.md) at one shape; calibration images resized to it.
_base_ = ['./segmentation_onnxruntime-int8_dynamic.py']
onnx_config = dict(input_shape=[1024,512], dynamic_axes=None)
