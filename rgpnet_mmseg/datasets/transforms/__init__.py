# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .loading import DataFileError, LoadAnnotations, LoadImageFromFile

__all__ = ['DataFileError', 'LoadAnnotations', 'LoadImageFromFile']
