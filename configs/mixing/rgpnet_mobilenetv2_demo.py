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
# Everything else (BN, data, schedule, mmseg's CrossEntropyLoss) is the
# demo config's.
_base_ = ['../rgpnet_r18_demo.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
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
        adaptor_channels=(32, 64, 128, 256)))
