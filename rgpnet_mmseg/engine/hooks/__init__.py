# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .progressive_resize_hook import ProgressiveResizeHook

__all__ = ['ProgressiveResizeHook']
