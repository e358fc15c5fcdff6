# Mixing both ways: mmseg's BiSeNetV2 (bisenetv2_fcn_demo.py, mmseg's
# shipped model on the demo data) with RGPNet's training recipe swapped in:
# our LabelRelaxationLoss (paper sec. 3.2, eq. 4) in the decode head and in
# all four auxiliary heads, and progressive resizing
# (`ProgressiveResizeDataPreProcessor` + `ProgressiveResizeHook`) at the
# Green-AI proportions of table 4 (configs/rgpnet_r18_pr-lr_demo.py): 1/4
# size for the first 60 % of the iterations, 1/2 up to 80 %, then full size.
# Everything else (heads, widths, data, schedule, seed) is the reference's.
#
#   python tools/train.py configs/mixing/bisenetv2_fcn_lr-pr_demo.py
_base_ = ['./bisenetv2_fcn_demo.py']
lr_loss = dict(type='LabelRelaxationLoss', loss_weight=1.0,
               loss_name='loss_lr')
model = dict(
    data_preprocessor=dict(type='ProgressiveResizeDataPreProcessor'),
    decode_head=dict(loss_decode=dict(_delete_=True, **lr_loss)),
    # a list replaces the base's list: mmseg's four auxiliary heads
    # restated ((in_channels, channels, in_index) as in mmseg's
    # _base_/models/bisenetv2.py), each with the label relaxation loss
    auxiliary_head=[
        dict(
            type='FCNHead',
            in_channels=c_in,
            channels=c,
            num_convs=2,
            num_classes=19,
            in_index=i,
            norm_cfg=dict(type='SyncBN', requires_grad=True),
            concat_input=False,
            align_corners=False,
            loss_decode=lr_loss)
        for c_in, c, i in ((16, 16, 1), (32, 64, 2), (64, 256, 3),
                           (128, 1024, 4))
    ])
custom_hooks = [
    dict(
        type='ProgressiveResizeHook',
        by_epoch=False,
        fraction=True,
        stages=[(0, 0.25), (0.6, 0.5), (0.8, 1.0)]),
    # a config's own custom_hooks replaces the default_runtime list
    dict(type='NonFiniteLossHook'),
    dict(type='LabelCheckHook')
]
