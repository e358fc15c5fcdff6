# RGPNet-R18 on Cityscapes, the paper's recipe (sec. 4, tables 3 and 7):
# 2 GPUs x 6 images, crop 1024x1024, OHEM, poly lr.
# Loss: cross-entropy with OHEM (theta 0.6, M 5000 per image) averaged over
# the pixels OHEM keeps (KeptPixelMeanLoss, docs/model_zoo.md#ohem).
_base_ = [
    '../_base_/models/rgpnet_r18-d32.py',
    '../_base_/datasets/cityscapes_1024x1024.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k.py'
]
crop_size = (1024, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
