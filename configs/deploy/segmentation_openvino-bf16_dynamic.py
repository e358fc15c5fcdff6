# OpenVINO BF16, dynamic N, H, W: the FP32 IR run with the precision hint
# 'bf16' (AVX512-BF16/AMX CPUs; on others OpenVINO runs FP32, logged once).
_base_ = ['./segmentation_openvino_dynamic.py']
backend_config = dict(inference_precision_hint='bf16')
