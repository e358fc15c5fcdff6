# ONNX Runtime, dynamic N, H, W (any size). Output: the logits
# (N, 19, H, W) float32; resize them to the image, then argmax (what
# mmseg does). Labels in the graph: `..._dynamic_argmax.py` or `--argmax`.
_base_ = [
    './_base_/segmentation_dynamic.py', './_base_/backends/onnxruntime.py'
]
