# RGPNet-R18 on Cityscapes with progressive resizing and label relaxation
# (paper sec. 3.2 and 4.4, table 4): the recipe of
# rgpnet_r18-d32_2xb6-80k_cityscapes-1024x1024.py, trained on 1/4-size
# crops first, then 1/2, then full size, with the label-relaxation loss in
# place of cross-entropy (still with OHEM) against the aliasing of the
# nearest-resized label maps.
#
# Stages: the paper switches to 1/2 at epoch 100 and to full size at epoch
# 130 (sec. 4.4); its energy run uses the same fractions, 10 and 13 of 15
# epochs, so we take epochs 0/100/130 of 150.  mmseg schedules are
# iteration based (InfiniteSampler, poly lr by iteration), so the stages
# are the same fractions of the 80k iterations: 0, 80k*100/150 = 53333 and
# 80k*130/150 = 69333.  Changing train_cfg.max_iters does not move them:
# override custom_hooks.0.stages as well.
_base_ = ['./rgpnet_r18-d32_2xb6-80k_cityscapes-1024x1024.py']
max_iters = 80000
model = dict(
    # resizes training batches on the device (ProgressiveResizeHook sets
    # its train_scale); validation/test batches stay full size
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
        stages=[(0, 0.25), (max_iters * 100 // 150, 0.5),
                (max_iters * 130 // 150, 1.0)]),
    # a config's own custom_hooks replaces the default_runtime list
    dict(type='NonFiniteLossHook'),
    dict(type='LabelCheckHook')
]
