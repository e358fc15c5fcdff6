# SegformerHead (the all-MLP decoder) at mmseg's settings: mmseg::segformer/
# segformer_mit-b1_8xb1-160k_cityscapes-1024x1024.py, whose encoder has the
# widths closest to ResNet-18's ((64, 128, 320, 512); mmseg keeps channels
# 256 for MiT-B0/B1 and uses 768 from B2 on): in_channels (64, 128, 320,
# 512) -> (64, 128, 256, 512), channels 256 unscaled, dropout 0.1, all four
# levels, BN. No auxiliary head. Predicts at 1/4.
_base_ = './_base_/r18-d32_1xb4-400it_demo-128x256.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='SegformerHead',
        in_channels=[64, 128, 256, 512],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode={{_base_.ce_loss}}))
