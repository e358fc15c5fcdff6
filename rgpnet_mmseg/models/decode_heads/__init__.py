# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .rgp_head import RGPHead

__all__ = ['RGPHead']
