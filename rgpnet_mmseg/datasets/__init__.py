# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .camvid import CamVidDataset
from .demo_data import generate_demo_cityscapes
from .transforms import DataFileError, LoadAnnotations, LoadImageFromFile

__all__ = [
    'CamVidDataset', 'DataFileError', 'LoadAnnotations', 'LoadImageFromFile',
    'generate_demo_cityscapes'
]
