# RGPHead whose decoder blocks do not share weights (the ablation of paper
# sec. 3.1, eq. 3): each residual block F_s has two 3x3 convolutions with
# their own weights instead of one weight used twice. Everything else as
# the RGPHead config.
_base_ = './rgpnet_r18-d32_1xb4-400it_demo-128x256.py'
model = dict(decode_head=dict(share_decoder_weights=False))
