# ONNX Runtime, dynamic N, H, W. Output: the label map (N, 1, H, W) int64,
# argmax inside the graph, at the input size (`tools/deploy.py --argmax`
# does the same with any deploy config). For consumers who want labels at
# the input size; to get mmseg's labels at the image size use the logits
# configs (the default), whose logits are resized before the argmax.
_base_ = ['./segmentation_onnxruntime_dynamic.py']
codebase_config = dict(with_argmax=True)
