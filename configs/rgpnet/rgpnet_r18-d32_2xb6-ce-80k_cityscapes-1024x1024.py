# Ablation of table 7 (Cityscapes, R18), row "CE + DS": plain cross-entropy
# without online hard example mining; otherwise the paper's recipe.
# Loss: cross-entropy averaged over the non-ignored pixels
# (KeptPixelMeanLoss without a sampler, docs/model_zoo.md#ohem).
_base_ = './rgpnet_r18-d32_2xb6-80k_cityscapes-1024x1024.py'
model = dict(decode_head=dict(sampler=None))
