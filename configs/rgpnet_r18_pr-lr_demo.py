# Table 4 on the demo data, "PR with LR": configs/rgpnet_r18_demo.py with
# progressive resizing and label relaxation (paper sec. 3.2 / 4.4) at the
# Green-AI proportions of table 4, 9/3/3 of 15 epochs: 1/4 size for the
# first 60 % of the iterations, 1/2 up to 80 %, then full size. On the
# 128x256 demo crops the 1/4 stage is 32x64 (a 1x2 map at the encoder's
# 1/32 stride). The other rows: rgpnet_r18_pr-ce_demo.py (PR w/o LR),
# rgpnet_r18_demo.py (full scale, CE), rgpnet_r18_lr_demo.py (full scale,
# LR); tools/table4_demo.sh runs all four. `make demo
# DEMO_CFG=configs/rgpnet_r18_pr-lr_demo.py`.
_base_ = ['./rgpnet_r18_pr-ce_demo.py']
model = dict(
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='LabelRelaxationLoss',
            loss_weight=1.0,
            loss_name='loss_lr')))
