# Logits (N, 19, H, W) instead of the label map (`tools/deploy.py --logits`
# does the same with any deploy config).
_base_ = ['./segmentation_onnxruntime_dynamic.py']
codebase_config = dict(with_argmax=False)
