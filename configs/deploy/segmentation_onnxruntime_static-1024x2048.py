# ONNX Runtime, static 1024x2048 (H x W). Output: the logits
# (1, 19, H, W) float32 (`tools/deploy.py --argmax`: the label map).
_base_ = [
    './_base_/segmentation_static.py', './_base_/backends/onnxruntime.py'
]
onnx_config = dict(input_shape=[2048, 1024])
