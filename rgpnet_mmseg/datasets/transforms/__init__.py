# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .loading import (CheckedLoadAnnotations, CheckedLoadImageFromFile,
                      DataFileError)

__all__ = ['CheckedLoadAnnotations', 'CheckedLoadImageFromFile',
           'DataFileError']
