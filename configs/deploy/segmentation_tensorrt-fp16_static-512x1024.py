# TensorRT FP16, static 512x1024 (H x W), paper table 5.
_base_ = [
    './_base_/segmentation_static.py', './_base_/backends/tensorrt-fp16.py'
]
onnx_config = dict(input_shape=[1024, 512])
backend_config = dict(model_inputs=[
    dict(
        input_shapes=dict(
            input=dict(
                min_shape=[1, 3, 512, 1024],
                opt_shape=[1, 3, 512, 1024],
                max_shape=[1, 3, 512, 1024])))
])
