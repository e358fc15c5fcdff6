# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""RGPNet for MMSegmentation.

Importing this package registers its modules into MMSegmentation's and
MMEngine's registries (configs load it through ``custom_imports``) and
applies the compatibility fixes of :mod:`rgpnet_mmseg.compat`.
"""
from . import compat
from .version import __version__

compat.apply()

from . import datasets, engine, models  # noqa: E402,F401  (registers modules)

__all__ = ['__version__', 'compat', 'datasets', 'engine', 'models']
