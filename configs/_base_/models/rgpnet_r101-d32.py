# RGPNet with an ImageNet-pretrained ResNet-101 (V1c) encoder, paper sec. 3.1;
# same adaptor and decoder as R50 (in_channels 256 .. 2048, widths 64 .. 512).
_base_ = './rgpnet_r50-d32.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')))
