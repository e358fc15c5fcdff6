# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .camvid import CamVidDataset
from .demo_data import generate_demo_cityscapes

__all__ = ['CamVidDataset', 'generate_demo_cityscapes']
