# TensorRT, static 1024x2048 (H x W), paper table 5.
# Output: the logits (N, 19, H, W) (`tools/deploy.py --argmax`: labels).
_base_ = [
    './_base_/segmentation_static.py', './_base_/backends/tensorrt.py'
]
onnx_config = dict(input_shape=[2048, 1024])
backend_config = dict(model_inputs=[
    dict(
        input_shapes=dict(
            input=dict(
                min_shape=[1, 3, 1024, 2048],
                opt_shape=[1, 3, 1024, 2048],
                max_shape=[1, 3, 1024, 2048])))
])
