# mmdeploy deploy config, RGPNet segmentation, dynamic batch/height/width.
_base_ = ['./segmentation_static.py']
onnx_config = dict(
    input_shape=None,
    dynamic_axes={
        'input': {
            0: 'batch',
            2: 'height',
            3: 'width'
        },
        'output': {
            0: 'batch',
            2: 'height',
            3: 'width'
        },
    })
