# Table 4 on the demo data, full scale with label relaxation: the control
# for "PR with LR" (rgpnet_r18_pr-lr_demo.py) without progressive resizing.
_base_ = ['./rgpnet_r18_demo.py']
model = dict(
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='LabelRelaxationLoss',
            loss_weight=1.0,
            loss_name='loss_lr')))
