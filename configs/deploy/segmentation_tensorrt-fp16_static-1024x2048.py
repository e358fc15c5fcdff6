# TensorRT FP16, static 1024x2048 (H x W), paper table 5.
# Output: the logits (N, 19, H, W) (`tools/deploy.py --argmax`: labels).
# The FP32 config with FP16 kernels.
_base_ = ['./segmentation_tensorrt_static-1024x2048.py']
backend_config = dict(common_config=dict(fp16_mode=True, fp16_typing='auto'))
