# TensorRT FP16, dynamic shape: any H x W from 512x1024 to 1024x2048
# Output: the logits (N, 19, H, W) (`tools/deploy.py --argmax`: labels).
# (multiples of 32), tuned for the full Cityscapes resolution.
# The FP32 config with FP16 kernels.
_base_ = ['./segmentation_tensorrt_dynamic-512x1024-1024x2048.py']
backend_config = dict(common_config=dict(fp16_mode=True, fp16_typing='auto'))
