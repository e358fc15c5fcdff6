# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""RGPNet for MMSegmentation.

Importing this package adds its modules to MMSegmentation's and MMEngine's
registries (configs load it through ``custom_imports``), replacing nothing
registered there, and applies the one global fix of
:mod:`rgpnet_mmseg.compat` (weights-only checkpoints on torch >= 2.6).
"""
from . import compat
from .version import __version__

compat.apply()

from . import datasets, engine, models  # noqa: E402,F401  (registers modules)

__all__ = ['__version__', 'compat', 'datasets', 'engine', 'models']
