# mmdeploy deploy config, RGPNet segmentation, static input shape.
# `input_shape` is [W, H] (mmdeploy's order) and must be a multiple of 32
# (RGPNet's output stride); tools/deploy.py checks it before exporting.
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=11,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    input_shape=[1024, 512],
    # mmdeploy's graph optimizer needs its TorchScript extension, which the
    # mmdeploy wheel does not ship; rgpnet_mmseg exports a BN-fused model.
    optimize=False)
codebase_config = dict(
    type='mmseg',
    task='Segmentation',
    # output the logits (resized to the image, then argmax, like mmseg);
    # True: the label map at the input size (ArgMax inside the graph)
    with_argmax=False,
    # our backend model: mmseg's labels (logits resized, then argmax);
    # tools/deploy.py adds the model's align_corners and threshold
    model_type='mmseg_end2end',
    # mmdeploy imports these before building anything: our backend model,
    # exporter rewriter, torch >= 2.9 fixes, TensorRT >= 10 backend
    module=['rgpnet_mmseg.deploy'])
