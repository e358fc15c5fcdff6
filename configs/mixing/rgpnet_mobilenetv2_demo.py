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
    '../_base_/datasets/cityscapes_demo.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_demo_400it.py'
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
        sampler=None,
        # mmseg's own loss, as the other demo configs
        loss_decode=dict(
            _delete_=True,
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0)))

env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
