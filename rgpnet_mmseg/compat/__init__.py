# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Every version workaround of rgpnet_mmseg, one module per library.

Each names the upstream problem and the versions it applies to, works
through the libraries' extension points (never by editing site-packages),
has an idempotent ``apply()`` and a test that fails once the workaround is
removed, so that it can go the day upstream fixes it.

* :mod:`.mmengine` - mmengine <= 0.10.7 on torch >= 2.6: weights-only
  ``torch.load`` refuses mmengine's own checkpoints (open-mmlab/mmengine
  #1655). The one global fix, :func:`apply`, run by ``import
  rgpnet_mmseg``. Also, scoped, for tests: distributed runs without CUDA.
* :mod:`.mmdeploy` - mmdeploy 1.3.1 on torch >= 2.9: it calls
  ``torch.onnx.export`` without ``dynamo=``, which torch now defaults to
  True, and its rewriters assume torch.fx/torch.onnx internals that moved.
  Applied by ``import rgpnet_mmseg.deploy``.
* :mod:`.tensorrt` - mmdeploy 1.3.1's TensorRT wrapper uses the binding
  API that TensorRT 10 removed (open-mmlab/mmdeploy#2758). Applied by
  ``import rgpnet_mmseg.deploy``.
"""
from .mmengine import CheckpointError, apply

__all__ = ['CheckpointError', 'apply']
