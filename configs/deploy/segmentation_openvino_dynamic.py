# OpenVINO >= 2024 FP32, dynamic N, H, W: a dynamic IR (end2end.xml/.bin,
# rgpnet_mmseg.deploy.backends.openvino). Output: the logits (N, 19, H, W).
# The precision hint is always set: OpenVINO's default on BF16 CPUs
# (AVX512-BF16, AMX) is BF16. inference_num_threads=None: all cores.
_base_ = ['./_base_/segmentation_dynamic.py']
backend_config = dict(
    type='openvino', inference_precision_hint='f32',
    inference_num_threads=None)
