# TensorRT, dynamic shape: any H x W from 512x1024 to 1024x2048
# Output: the logits (N, 19, H, W) (`tools/deploy.py --argmax`: labels).
# (multiples of 32), tuned for the full Cityscapes resolution.
_base_ = [
    './_base_/segmentation_dynamic.py', './_base_/backends/tensorrt.py'
]
backend_config = dict(model_inputs=[
    dict(
        input_shapes=dict(
            input=dict(
                min_shape=[1, 3, 512, 1024],
                opt_shape=[1, 3, 1024, 2048],
                max_shape=[1, 3, 1024, 2048])))
])
