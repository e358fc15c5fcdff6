# FCNHead at mmseg's settings: mmseg::fcn/fcn_r18-d8_4xb2-80k_cityscapes-
# 512x1024.py (= _base_/models/fcn_r50-d8.py with in_channels 2048 -> 512,
# channels 512 -> 128, mmseg's own ResNet-18 scaling): two 3x3 convs,
# concat_input, dropout 0.1, on the last encoder level. No auxiliary head.
# On this encoder (no dilation) it predicts at 1/32 (mmseg's d8: 1/8).
_base_ = './_base_/r18-d32_1xb4-400it_demo-128x256.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='FCNHead',
        in_channels=512,
        in_index=3,
        channels=128,
        num_convs=2,
        concat_input=True,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.ce_loss}}))
