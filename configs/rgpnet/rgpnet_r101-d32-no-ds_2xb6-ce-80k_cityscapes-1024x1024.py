# Ablation of table 7 (Cityscapes, R101), row "CE": plain cross-entropy and
# no downsampling connections D in the adaptor.
# Loss: cross-entropy averaged over the non-ignored pixels
# (KeptPixelMeanLoss without a sampler, docs/model_zoo.md#ohem).
_base_ = './rgpnet_r101-d32_2xb6-ce-80k_cityscapes-1024x1024.py'
model = dict(decode_head=dict(use_downsample=False))
