# RGPNet-R18 trained from scratch on the generated demo data, on a CPU, in a
# few minutes (`make demo`). Same model as the Cityscapes config, with plain
# BN (one process), no pretrained download, no OHEM and a short schedule.
# Loss: mmseg's plain CrossEntropyLoss (mean over every pixel, ignored and
# padded ones included), not the paper configs' KeptPixelMeanLoss, so the
# measured demo numbers stay those of the model they were measured on.
_base_ = [
    './_base_/models/rgpnet_r18-d32.py',
    './_base_/datasets/cityscapes_demo.py', './_base_/default_runtime.py',
    './_base_/schedules/schedule_demo_400it.py'
]
crop_size = (128, 256)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(norm_cfg=norm_cfg, init_cfg=None),
    decode_head=dict(
        norm_cfg=norm_cfg,
        sampler=None,
        loss_decode=dict(
            _delete_=True,
            type='CrossEntropyLoss',
            use_sigmoid=False,
            loss_weight=1.0)))

env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
