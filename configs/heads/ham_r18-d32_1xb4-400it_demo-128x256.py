# LightHamHead (SegNeXt's Hamburger decoder) at mmseg's settings:
# mmseg::segnext/segnext_mscan-s_1xb16-adamw-160k_ade20k-512x512.py, whose
# encoder has the widths closest to ResNet-18's ((64, 128, 320, 512)):
# in_channels (128, 320, 512) -> (128, 256, 512) on levels 1/8 .. 1/32,
# channels and ham_channels 256 unscaled (mmseg keeps 256 for MSCAN-T/S),
# the NMF settings merged from its base (mscan-t), dropout 0.1, GroupNorm
# with 32 groups. No auxiliary head. Predicts at 1/8.
_base_ = './_base_/r18-d32_1xb4-400it_demo-128x256.py'
model = dict(
    decode_head=dict(
        _delete_=True,
        type='LightHamHead',
        in_channels=[128, 256, 512],
        in_index=[1, 2, 3],
        channels=256,
        ham_channels=256,
        ham_kwargs=dict(
            MD_S=1,
            MD_R=16,
            train_steps=6,
            eval_steps=7,
            inv_t=100,
            rand_init=True),
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        align_corners=False,
        loss_decode={{_base_.ce_loss}}))
