# RGPNet-R18 on Cityscapes with progressive resizing and label relaxation
# (paper sec. 3.2 and 4.4, table 4): the recipe of
# rgpnet_r18-d32_2xb6-80k_cityscapes-1024x1024.py, trained on 1/4-size
# crops first, then 1/2, then full size, with the label-relaxation loss in
# place of cross-entropy (still with OHEM, averaged over the pixels OHEM
# keeps: KeptPixelMeanLoss) against the aliasing of the nearest-resized
# label maps. The light variant of table 4's "PR with LR": the paper's row
# (78.8 mIoU) is R101 with Mapillary-pretrained init, see
# rgpnet_r101-d32-mapillary-pre_2xb6-pr-lr-80k_cityscapes-1024x1024.py.
#
# Stages: table 4's Green-AI run is 9 epochs at 1/4, 3 at 1/2 and 3 at full
# size (its speed-up, 1/16*9/15 + 1/4*3/15 + 3/15 = 0.2875), i.e. switches
# after 60 % and 80 % of training. They are fractions of train_cfg.max_iters
# (80k: iterations 48000 and 64000), resolved when training starts, so they
# follow a changed max_iters. (Sec. 4.4's own run switches at epochs 100 and
# 130 of an unstated total: by_epoch=True, stages=[(0, 0.25), (100, 0.5),
# (130, 1.0)] in an epoch-based loop.)
_base_ = ['./rgpnet_r18-d32_2xb6-80k_cityscapes-1024x1024.py']
model = dict(
    # resizes training batches on the device (ProgressiveResizeHook sets
    # its train_scale); validation/test batches stay full size
    data_preprocessor=dict(type='ProgressiveResizeDataPreProcessor'),
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='KeptPixelMeanLoss',
            loss=dict(type='LabelRelaxationLoss', loss_weight=1.0))))
custom_hooks = [
    dict(
        type='ProgressiveResizeHook',
        fraction=True,
        stages=[(0, 0.25), (0.6, 0.5), (0.8, 1.0)]),
    # a config's own custom_hooks replaces the default_runtime list
    dict(type='NonFiniteLossHook'),
    dict(type='LabelCheckHook')
]
