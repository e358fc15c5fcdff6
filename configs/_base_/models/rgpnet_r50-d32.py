# RGPNet with an ImageNet-pretrained ResNet-50 encoder (plain stem, see
# rgpnet_r18-d32.py), paper sec. 3.1:
# the four levels (1/4 .. 1/32) have 256, 512, 1024 and 2048 channels, which
# the adaptor's 1x1 transfer convolutions reduce by four to 64 .. 512.
_base_ = './rgpnet_r18-d32.py'
model = dict(
    backbone=dict(
        depth=50,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/'
            'resnet50-0676ba61.pth')),
    decode_head=dict(
        in_channels=(256, 512, 1024, 2048),
        adaptor_channels=(64, 128, 256, 512)))
