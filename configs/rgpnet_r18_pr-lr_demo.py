# configs/rgpnet_r18_demo.py with progressive resizing and label relaxation
# (paper sec. 3.2 / 4.4): the 128x256 demo crops are trained at 1/2 size for
# the first 40% of the iterations, at 3/4 up to 80%, then at full size.
# (The paper's 1/4 would leave 32x64 inputs, a 1x2 map at the encoder's
# 1/32 stride.)  `make demo DEMO_CFG=configs/rgpnet_r18_pr-lr_demo.py`.
_base_ = ['./rgpnet_r18_demo.py']
max_iters = 400
model = dict(
    data_preprocessor=dict(type='ProgressiveResizeDataPreProcessor'),
    decode_head=dict(
        loss_decode=dict(
            _delete_=True,
            type='LabelRelaxationLoss',
            loss_weight=1.0,
            loss_name='loss_lr')))
custom_hooks = [
    dict(
        type='ProgressiveResizeHook',
        by_epoch=False,
        stages=[(0, 0.5), (max_iters * 2 // 5, 0.75),
                (max_iters * 4 // 5, 1.0)]),
    # a config's own custom_hooks replaces the default_runtime list
    dict(type='NonFiniteLossHook'),
    dict(type='LabelCheckHook')
]
