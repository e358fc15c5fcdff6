# RGPNet with an ImageNet-pretrained ResNet-101 encoder (plain stem), paper
# sec. 3.1; same adaptor and decoder as R50 (in_channels 256 .. 2048,
# widths 64 .. 512).
_base_ = './rgpnet_r50-d32.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/'
            'resnet101-63fe2227.pth')))
