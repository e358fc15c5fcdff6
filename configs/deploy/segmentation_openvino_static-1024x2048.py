# OpenVINO FP32, static 1024x2048 (H x W): a static IR. Output: the logits
# (1, 19, H, W) float32 (`tools/deploy.py --argmax`: the label map).
_base_ = ['./segmentation_openvino_dynamic.py']
onnx_config = dict(input_shape=[2048, 1024], dynamic_axes=None)
