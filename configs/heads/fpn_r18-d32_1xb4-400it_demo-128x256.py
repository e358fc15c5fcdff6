# FPN neck + FPNHead (Semantic FPN) at mmseg's settings: mmseg::_base_/
# models/fpn_r50.py with the neck's in_channels (256, 512, 1024, 2048) ->
# (64, 128, 256, 512), its out_channels 256 -> 64 and the head's in_channels
# 256 -> 64 and channels 128 -> 32 (mmseg has no ResNet-18 FPN; every width
# scaled by 1/4 as mmseg's own ResNet-18 configs scale their heads):
# feature strides (4, 8, 16, 32), dropout 0.1. No auxiliary head. The neck
# counts as part of the head here. Predicts at 1/4.
_base_ = './_base_/r18-d32_1xb4-400it_demo-128x256.py'
model = dict(
    neck=dict(
        type='FPN',
        in_channels=[64, 128, 256, 512],
        out_channels=64,
        num_outs=4),
    decode_head=dict(
        _delete_=True,
        type='FPNHead',
        in_channels=[64, 64, 64, 64],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=32,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.ce_loss}}))
