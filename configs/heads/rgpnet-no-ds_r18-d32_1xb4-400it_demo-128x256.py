# RGPHead without the adaptor's downsampling connections D (the paper's
# "DS", table 6), as configs/rgpnet/rgpnet_r18-d32-no-ds_2xb6-ce-80k_
# cityscapes-1024x1024.py; everything else as the RGPHead config.
_base_ = './rgpnet_r18-d32_1xb4-400it_demo-128x256.py'
model = dict(decode_head=dict(use_downsample=False))
