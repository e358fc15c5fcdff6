# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Version workarounds, one module per library (extension points, an
idempotent ``apply()``, a test that fails without): :mod:`.mmengine`
(by ``import rgpnet_mmseg``), :mod:`.mmdeploy` (by ``rgpnet_mmseg.deploy``)."""
from .mmengine import CheckpointError, apply

__all__ = ['CheckpointError', 'apply']
