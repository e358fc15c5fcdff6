# Mixing, the reference row: mmseg's BiSeNetV2 as shipped, on the demo data.
#
# The model is mmseg's own model config (`mmseg::_base_/models/
# bisenetv2.py`, which mmseg's `bisenetv2_fcn_4xb4-160k_cityscapes-
# 1024x1024.py` inherits), unchanged: its FCN decode head, its four
# auxiliary FCN heads and mmseg's CrossEntropyLoss in each, trained from
# scratch as mmseg trains it (no pretrained weights). Only the data and
# the schedule are ours: the 128x256 demo crops and the 400-iteration demo
# schedule (AdamW) of every demo config, instead of mmseg's 1024x1024
# Cityscapes crops and 160k SGD iterations (the whole shipped config cannot
# be a base next to our data set and runtime bases: see
# bisenetv1_r18-d32_lr-pr_demo.py). mmseg's SyncBN becomes BN in one
# process (mmengine's Runner reverts it outside distributed training).
#
#   python tools/train.py configs/mixing/bisenetv2_fcn_demo.py
#
# The same model with our LabelRelaxationLoss and progressive resizing:
# bisenetv2_fcn_lr-pr_demo.py; both rows: `python tools/benchmark.py heads
# --mixing` (docs/heads_benchmark.md).
_base_ = [
    'mmseg::_base_/models/bisenetv2.py',
    '../_base_/datasets/cityscapes_demo.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_demo_400it.py'
]
crop_size = (128, 256)
model = dict(data_preprocessor=dict(size=crop_size))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
