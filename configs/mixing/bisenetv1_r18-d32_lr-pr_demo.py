# Mixing (1/2): mmseg's BiSeNetV1-R18 with RGPNet's training recipe.
#
# The model is mmseg's own shipped model config, inherited across packages
# (`mmseg::`, mmengine's cross-package `_base_`), trained with our
# `LabelRelaxationLoss` (paper sec. 3.2, eq. 4) in all three heads and with
# progressive resizing (`ProgressiveResizeDataPreProcessor` +
# `ProgressiveResizeHook`, docs/progressive_resizing.md), on the demo data.
#
# mmseg's full config `mmseg::bisenetv1/bisenetv1_r18-d32_4xb4-160k_
# cityscapes-1024x1024.py` cannot be a base next to our data set and
# runtime bases: mmengine refuses keys defined by two bases ("Duplicate key
# is not allowed among bases": train_dataloader, crop_size, ...), so the
# model comes from mmseg's model base, which that config inherits too.
#
#   python tools/train.py configs/mixing/bisenetv1_r18-d32_lr-pr_demo.py
#
# BiSeNetV1's decode head predicts at 1/8 of the input (RGPNet: 1/4).
_base_ = [
    'mmseg::_base_/models/bisenetv1_r18-d32.py',
    '../_base_/datasets/cityscapes_demo.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_demo_400it.py'
]
crop_size = (128, 256)
# one process on a CPU: BN instead of the base's SyncBN (which mmengine's
# Runner would also revert outside distributed training)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(
        type='ProgressiveResizeDataPreProcessor', size=crop_size),
    backbone=dict(
        norm_cfg=norm_cfg,
        backbone_cfg=dict(norm_cfg=norm_cfg, init_cfg=None)),
    decode_head=dict(
        norm_cfg=norm_cfg,
        loss_decode=dict(
            _delete_=True,
            type='LabelRelaxationLoss',
            loss_weight=1.0,
            loss_name='loss_lr')),
    # a list replaces the base's list: both auxiliary heads restated, with
    # BN and the label relaxation loss
    auxiliary_head=[
        dict(
            type='FCNHead',
            in_channels=128,
            channels=64,
            num_convs=1,
            num_classes=19,
            in_index=1,
            norm_cfg=norm_cfg,
            concat_input=False,
            align_corners=False,
            loss_decode=dict(
                type='LabelRelaxationLoss',
                loss_weight=1.0,
                loss_name='loss_lr')),
        dict(
            type='FCNHead',
            in_channels=128,
            channels=64,
            num_convs=1,
            num_classes=19,
            in_index=2,
            norm_cfg=norm_cfg,
            concat_input=False,
            align_corners=False,
            loss_decode=dict(
                type='LabelRelaxationLoss',
                loss_weight=1.0,
                loss_name='loss_lr')),
    ])

# the stages below are computed from the schedule's length
max_iters = 400
# progressive resizing: 1/2 size for the first 40 % of the iterations, 3/4
# up to 80 %, then full size (not table 4's 1/4 -> 1/2 -> 1 of
# configs/rgpnet_r18_pr-lr_demo.py). The stages are iterations and do not
# follow max_iters: override both together, or give them as fractions of
# the schedule with `fraction=True, stages=[(0, 0.5), (0.4, 0.75),
# (0.8, 1.0)]` (docs/progressive_resizing.md)
custom_hooks = [
    dict(
        type='ProgressiveResizeHook',
        by_epoch=False,
        stages=[(0, 0.5), (max_iters * 2 // 5, 0.75),
                (max_iters * 4 // 5, 1.0)]),
    # a config's own custom_hooks replaces the default_runtime list
    dict(type='NonFiniteLossHook'),
    dict(type='LabelCheckHook')
]
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
