# PSPHead at mmseg's settings: mmseg::pspnet/pspnet_r18-d8_4xb2-80k_
# cityscapes-512x1024.py (= _base_/models/pspnet_r50-d8.py with in_channels
# 2048 -> 512, channels 512 -> 128, mmseg's own ResNet-18 scaling): pool
# scales (1, 2, 3, 6), dropout 0.1, on the last encoder level. No auxiliary
# head. On this encoder (no dilation) it predicts at 1/32 (mmseg's d8: 1/8).
_base_ = './_base_/r18-d32_1xb4-400it_demo-128x256.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='PSPHead',
        in_channels=512,
        in_index=3,
        channels=128,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.ce_loss}}))
