# The shared part of every head-to-head config under configs/heads/: the
# demo config `configs/rgpnet_r18_demo.py` as it is (ResNet-18 with the
# plain 7x7 stem, strides (1, 2, 2, 2), no dilation, out_indices
# (0, 1, 2, 3), BN, no pretrained download; the demo data, 128x256 crops,
# batch 4; the 400-iteration AdamW schedule; seed 0, overridable with
# `--cfg-options randomness.seed=N`), whose decode head is RGPHead.
#
# A head config replaces the decode head with `_delete_=True` and keeps
# everything else. No config has an auxiliary head: every model is this
# encoder + one decode head. `norm_cfg` and `ce_loss` below are the demo
# config's, for the head configs to reuse.
_base_ = '../../rgpnet_r18_demo.py'
norm_cfg = dict(type='BN', requires_grad=True)
ce_loss = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
