# Mixing (2/2): RGPNet's decode head (`RGPHead`) on mmseg's MobileNetV2
# backbone, on the demo data.
#
# RGPHead needs four encoder levels at 1/4, 1/8, 1/16 and 1/32. mmseg's
# MobileNetV2 with its default (undilated) strides gives them at
# out_indices (1, 2, 4, 6): 24, 32, 96 and 320 channels. (mmseg's
# MobileNetV3 is hard-wired to output stride 8, dilating its last stages,
# and STDCNet returns only 1/8 .. 1/32, so neither gives the 1/4 level.)
# The adaptor widths are half of RGPNet-R18's, still wider than the
# MobileNetV2 levels at 1/4 and 1/8.
#
#   python tools/train.py configs/mixing/rgpnet_mobilenetv2_demo.py
_base_ = [
    '../_base_/models/rgpnet_r18-d32.py',
    '../_base_/datasets/cityscapes_demo.py', '../_base_/default_runtime.py'
]
crop_size = (128, 256)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.,
        strides=(1, 2, 2, 2, 1, 2, 1),
        dilations=(1, 1, 1, 1, 1, 1, 1),
        out_indices=(1, 2, 4, 6),
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU6'),
        # ImageNet weights: init_cfg=dict(type='Pretrained',
        # checkpoint='mmcls://mobilenet_v2') (not downloadable here)
        init_cfg=None),
    decode_head=dict(
        in_channels=(24, 32, 96, 320),
        channels=32,
        adaptor_channels=(32, 64, 128, 256),
        norm_cfg=norm_cfg,
        sampler=None))

max_iters = 400
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=0.002, betas=(0.9, 0.999), weight_decay=0.0001))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=20, by_epoch=False),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=20,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=100, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', interval=4))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
