# DepthwiseSeparableASPPHead (DeepLabV3+) at mmseg's settings:
# mmseg::deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py
# (= _base_/models/deeplabv3plus_r50-d8.py with in_channels 2048 -> 512,
# channels 512 -> 128, c1_in_channels 256 -> 64, c1_channels 48 -> 12,
# mmseg's own ResNet-18 scaling): dilations (1, 12, 24, 36), dropout 0.1,
# ASPP on the last level and the 1/4 level as low-level features. No
# auxiliary head. Predicts at 1/4; the ASPP works on 1/32 here (mmseg's
# d8: 1/8), where the dilated branches of a 128x256 crop see mostly padding.
_base_ = './_base_/r18-d32_1xb4-400it_demo-128x256.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='DepthwiseSeparableASPPHead',
        in_channels=512,
        in_index=3,
        channels=128,
        dilations=(1, 12, 24, 36),
        c1_in_channels=64,
        c1_channels=12,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.ce_loss}}))
