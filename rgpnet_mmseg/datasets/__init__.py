# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .demo_data import generate_demo_cityscapes

__all__ = ['generate_demo_cityscapes']
