# RGPNet's head on the shared ResNet-18 encoder: the demo config
# `configs/rgpnet_r18_demo.py` unchanged (RGPHead, adaptor widths
# (64, 128, 256, 512), DS connections, shared decoder weights, no dropout).
# Output stride 4.
_base_ = './_base_/r18-d32_1xb4-400it_demo-128x256.py'
