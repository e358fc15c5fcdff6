# Table 7 (Cityscapes, R101), row "CE + DS + OHEM + PM": the paper's recipe,
# started from a Mapillary-trained model whose classifier rows were put in
# Cityscapes order ("PM"). Make the file with
#   python tools/train.py \
#       configs/rgpnet/rgpnet_r101-d32_2xb6-80k_mapillary-1024x1024.py
#   python tools/model_converters/mapillary2cityscapes.py \
#       work_dirs/rgpnet_r101-d32_2xb6-80k_mapillary-1024x1024/iter_80000.pth \
#       checkpoints/rgpnet_r101-d32_mapillary-pre_cityscapes-init.pth
# or point `load_from` elsewhere with --cfg-options load_from=PATH.
# Loss: cross-entropy with OHEM (theta 0.6, M 5000 per image) averaged over
# the pixels OHEM keeps (KeptPixelMeanLoss, docs/model_zoo.md#ohem).
_base_ = './rgpnet_r101-d32_2xb6-80k_cityscapes-1024x1024.py'
load_from = 'checkpoints/rgpnet_r101-d32_mapillary-pre_cityscapes-init.pth'
# every weight comes from load_from: no ImageNet initialisation needed
model = dict(backbone=dict(init_cfg=None))
# one log line on what load_from gave (the classifier is left at its
# initialisation where the class count differs); the default safety hooks
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='LabelCheckHook'),
    dict(type='LoadSummaryHook')
]
