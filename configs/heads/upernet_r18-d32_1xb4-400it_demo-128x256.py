# UPerHead at mmseg's settings: mmseg::_base_/models/upernet_r50.py with
# in_channels (256, 512, 1024, 2048) -> (64, 128, 256, 512) and channels
# 512 -> 128 (mmseg has no ResNet-18 UPerNet; scaled by 1/4 as mmseg's own
# ResNet-18 PSPNet/FCN/DeepLab configs scale the same 512 channels):
# pool scales (1, 2, 3, 6), dropout 0.1, all four levels. No auxiliary
# head (the base's FCN auxiliary head is dropped). Predicts at 1/4.
_base_ = './_base_/r18-d32_1xb4-400it_demo-128x256.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='UPerHead',
        in_channels=[64, 128, 256, 512],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=128,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.ce_loss}}))
