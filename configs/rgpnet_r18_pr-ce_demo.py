# Table 4 on the demo data, "PR w/o LR": configs/rgpnet_r18_demo.py (its
# cross-entropy loss) with progressive resizing at the Green-AI proportions
# (9/3/3 of 15 epochs): 1/4 size for the first 60 % of the iterations, 1/2
# up to 80 %, then full size; the stages are fractions of
# train_cfg.max_iters, so they follow it. See rgpnet_r18_pr-lr_demo.py.
_base_ = ['./rgpnet_r18_demo.py']
model = dict(data_preprocessor=dict(type='ProgressiveResizeDataPreProcessor'))
custom_hooks = [
    dict(
        type='ProgressiveResizeHook',
        fraction=True,
        stages=[(0, 0.25), (0.6, 0.5), (0.8, 1.0)]),
    # a config's own custom_hooks replaces the default_runtime list
    dict(type='NonFiniteLossHook'),
    dict(type='LabelCheckHook')
]
