# ONNX Runtime, static 512x1024 (H x W). Output: the logits (1, 19, H, W)
# float32 (`tools/deploy.py --argmax`: the label map in the graph).
_base_ = [
    './_base_/segmentation_static.py', './_base_/backends/onnxruntime.py'
]
onnx_config = dict(input_shape=[1024, 512])
