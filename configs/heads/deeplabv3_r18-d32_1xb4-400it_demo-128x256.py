# ASPPHead (DeepLabV3) at mmseg's settings: mmseg::deeplabv3/deeplabv3_r18-
# d8_4xb2-80k_cityscapes-512x1024.py (= _base_/models/deeplabv3_r50-d8.py
# with in_channels 2048 -> 512, channels 512 -> 128, mmseg's own ResNet-18
# scaling): dilations (1, 12, 24, 36), dropout 0.1, on the last encoder
# level. No auxiliary head. On this encoder (no dilation) it predicts at
# 1/32 (mmseg's d8: 1/8); the dilations stay mmseg's, so on a 1/32 map of
# a 128x256 crop (4x8) the dilated branches see mostly zero padding.
_base_ = './_base_/r18-d32_1xb4-400it_demo-128x256.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='ASPPHead',
        in_channels=512,
        in_index=3,
        channels=128,
        dilations=(1, 12, 24, 36),
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.ce_loss}}))
