# Ablation of table 6 (Mapillary, R101): the adaptor without its
# downsampling connections D ("DS"), everything else as the R101 Mapillary
# config (the paper's MS+F mIoU: 46.8 without DS, 50.2 with).
# Loss: cross-entropy with OHEM (theta 0.6, M 5000 per image) averaged over
# the pixels OHEM keeps (KeptPixelMeanLoss, docs/model_zoo.md#ohem).
_base_ = './rgpnet_r101-d32_2xb6-80k_mapillary-1024x1024.py'
model = dict(decode_head=dict(use_downsample=False))
