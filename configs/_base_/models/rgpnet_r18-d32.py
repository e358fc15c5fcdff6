# RGPNet with an ImageNet-pretrained ResNet-18 encoder, paper sec. 3.1.
# Output stride 32 (no dilation): the adaptor works on 1/4 .. 1/32.
# The encoder is the paper's ResNet (He et al., its ref. [14]): the plain
# 7x7 stem, as in torchvision and in mmseg's BiSeNetV1-R18, not mmseg's
# deep-stem ResNetV1c. Its weights are torchvision's ImageNet ResNet-18, the
# file `torchvision://resnet18` names; the URL needs no torchvision install.
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/'
            'resnet18-f37072fd.pth')),
    decode_head=dict(
        type='RGPHead',
        in_channels=(64, 128, 256, 512),
        in_index=(0, 1, 2, 3),
        channels=64,
        adaptor_channels=(64, 128, 256, 512),
        use_downsample=True,
        dropout_ratio=0.0,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        # paper sec. 4: cross-entropy with OHEM, theta = 0.6, M = 5000
        # (absolute M per image, also under progressive resizing), averaged
        # over the pixels OHEM keeps as in the paper's refs. [39, 42]
        # (KeptPixelMeanLoss; without a sampler: over the non-ignored
        # pixels). mmseg's own convention divides by every pixel, ignored
        # and padded ones too: loss_decode=dict(type='CrossEntropyLoss',
        # loss_weight=1.0, _delete_=True). docs/model_zoo.md#ohem
        sampler=dict(type='OHEMPixelSampler', thresh=0.6, min_kept=5000),
        loss_decode=dict(
            type='KeptPixelMeanLoss',
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0))),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
