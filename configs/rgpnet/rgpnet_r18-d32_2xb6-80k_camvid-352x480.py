# RGPNet-R18 on CamVid in the SegNet setup (paper sec. 4, table 1): 11
# classes, 352x480 for training and inference, train + val for training,
# the test split for evaluation; 2 GPUs x 6 images, OHEM, poly lr. The paper
# gives no schedule length; 80k iterations is ours (about 2050 epochs of
# SegNet's 468 train + val images at batch 12).
# Loss: cross-entropy with OHEM (theta 0.6, M 5000 per image) averaged over
# the pixels OHEM keeps (KeptPixelMeanLoss, docs/model_zoo.md#ohem).
_base_ = [
    '../_base_/models/rgpnet_r18-d32.py',
    '../_base_/datasets/camvid_352x480.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k.py'
]
crop_size = (352, 480)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor, decode_head=dict(num_classes=11))
