# Runtime shared by every rgpnet-mmseg config (as mmseg's default_runtime).
default_scope = 'mmseg'
# Registers RGPHead & co. into mmseg's registries, for our tools/train.py,
# mmseg's own tools/train.py, `mim train mmsegmentation` and mmdeploy alike.
custom_imports = dict(imports=['rgpnet_mmseg'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False

tta_model = dict(type='SegTTAModel')
# Reliability (docs/reliability.md): stop at the first NaN/inf loss before
# that iteration's checkpoint is written (the last good one stays), and
# name label files whose values are neither a class nor the ignore index
# before they reach the loss (a device-side assert on CUDA). A config that
# sets its own `custom_hooks` replaces this list: list these two as well.
custom_hooks = [
    dict(type='NonFiniteLossHook'),
    dict(type='LabelCheckHook'),
]
