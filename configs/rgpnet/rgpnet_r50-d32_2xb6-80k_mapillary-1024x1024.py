# RGPNet-R50 on Mapillary Vistas v1.2, 65 classes (paper sec. 4; table 2
# reports R18 and R101 only): image base size 1536, random rescale 0.5-2.0,
# crop 1024x1024, 2 GPUs x 6 images, OHEM, poly lr. The paper gives no
# schedule length; 80k iterations (about 53 epochs of the 18,000 training
# images at batch 12) is ours.
# Loss: cross-entropy with OHEM (theta 0.6, M 5000 per image) averaged over
# the pixels OHEM keeps (KeptPixelMeanLoss, docs/model_zoo.md#ohem).
_base_ = [
    '../_base_/models/rgpnet_r50-d32.py',
    '../_base_/datasets/mapillary_v1_65_1024x1024.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_80k.py'
]
crop_size = (1024, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor, decode_head=dict(num_classes=65))
