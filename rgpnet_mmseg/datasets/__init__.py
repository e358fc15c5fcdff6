# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .camvid import CamVidDataset
from .transforms import (CheckedLoadAnnotations, CheckedLoadImageFromFile,
                         DataFileError)

__all__ = ['CamVidDataset', 'CheckedLoadAnnotations',
           'CheckedLoadImageFromFile', 'DataFileError']
