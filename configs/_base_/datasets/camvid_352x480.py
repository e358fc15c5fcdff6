# CamVid in the SegNet setup the paper follows (sec. 4): 11 classes, the
# 360x480 images of the SegNet tutorial, 352x480 for training and inference,
# train + val (SegNet's 367 + 101 images) for training and the 233 test
# images for evaluation. `tools/dataset_converters/camvid.py` writes this
# layout (label 11 "unlabelled" -> 255):
#   data/camvid/img_dir/{train,val,trainval,test}/*.png
#   data/camvid/ann_dir/{train,val,trainval,test}/*.png
# To keep SegNet's val split for validation instead, train on
# img_dir/train + ann_dir/train and validate on img_dir/val + ann_dir/val.
dataset_type = 'CamVidDataset'
data_root = 'data/camvid/'
crop_size = (352, 480)  # (h, w)
# Checked loaders: a broken image/label file stops with its name
# (docs/reliability.md). test_pipeline keeps mmseg's loader names, which
# mmseg's inference API and mmdeploy look up by name.
train_pipeline = [
    dict(type='CheckedLoadImageFromFile'),
    dict(type='CheckedLoadAnnotations'),
    # the paper's augmentation (sec. 4): random rescale 0.5-2.0 around the
    # image size, random crop, random left-right flip
    dict(
        type='RandomResize',
        scale=(480, 360),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
# Inference at 352x480 (w, h below); mmseg resizes the prediction back to
# the 360x480 label map before computing the metric.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(480, 352), keep_ratio=False),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
# Multi-scale + flip testing (MS+F): `tools/test.py --tta`.
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='Resize',
                    scale=(int(480 * r), int(352 * r)),
                    keep_ratio=False) for r in img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ], [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]
        ])
]
train_dataloader = dict(
    batch_size=6,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(
            img_path='img_dir/trainval', seg_map_path='ann_dir/trainval'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/test', seg_map_path='ann_dir/test'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
