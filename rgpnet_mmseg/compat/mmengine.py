# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""mmengine 0.10.7 on today's torch.

* **Weights-only checkpoints** (open-mmlab/mmengine#1655; mmengine <=
  0.10.7, torch >= 2.6). ``torch.load`` defaults to ``weights_only=True``
  since torch 2.6; mmengine calls it without the argument, and its
  checkpoints hold numpy arrays, dtypes and scalars and ``HistoryBuffer``
  besides tensors, so ``--resume``, ``load_from`` and ``init_model`` fail.
  :func:`apply` (run on ``import rgpnet_mmseg``) allow-lists exactly those
  types; mmengine's own loader then reads its checkpoints (no loader is
  replaced). Our entry points name a missing, corrupt or unsafe file
  (:mod:`rgpnet_mmseg.utils.checkpoint`).
* **Distributed without CUDA** (mmengine 0.10.7; no upstream issue).
  ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` whatever the
  backend, and ``Runner.wrap_model`` gives DDP ``device_ids``, which DDP
  refuses for a CPU module: :func:`cpu_distributed` (scoped, never on
  import) and :data:`CPU_DDP_WRAPPER`, for the CPU tests.
"""
import contextlib
import pickle
from typing import Any, Callable, Iterator, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# ``model_wrapper_cfg`` for a CPU module: config values win over the
# ``device_ids=[LOCAL_RANK]`` that ``Runner.wrap_model`` passes as default.
CPU_DDP_WRAPPER = dict(
    type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, cannot be loaded (corrupted or
    unsafe) or does not fit its model."""


def _history_buffer_getattr(obj: Any, name: str) -> Callable:
    """``builtins.getattr`` inside weights-only unpickling.

    ``HistoryBuffer.__getstate__`` pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``; a general ``getattr`` would let a
    crafted file walk to any object, so only those methods resolve.
    """
    if obj is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(obj, "__name__", type(obj).__name__)!r}, '
        f'{name!r}) is not allowed in a weights-only checkpoint')


def checkpoint_safe_globals() -> List[Any]:
    """The types, beyond torch's own, that an mmengine checkpoint holds.

    Returns:
        list: Entries for :func:`torch.serialization.add_safe_globals`.
    """
    numpy_types = [
        np.ndarray, np.dtype,
        np.zeros(1).__reduce__()[0],  # numpy's array _reconstruct
        np.float64(0).__reduce__()[0]  # numpy's scalar reconstruction
    ]
    # numpy >= 1.25 pickles dtypes through their classes, e.g. Float64DType.
    numpy_types += [
        type(np.dtype(t)) for t in (np.bool_, np.int8, np.int16, np.int32,
                                    np.int64, np.uint8, np.float16,
                                    np.float32, np.float64)
    ]
    return numpy_types + [
        HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')
    ]


def apply() -> None:
    """Allow-list mmengine's checkpoint types (idempotent)."""
    torch.serialization.add_safe_globals(checkpoint_safe_globals())


@contextlib.contextmanager
def cpu_distributed() -> Iterator[None]:
    """Without CUDA, make ``torch.cuda.set_device`` a no-op inside the
    context (restored on exit), so that mmengine's ``init_dist`` starts a
    gloo run; wrap the set-up only (e.g. a ``Runner.setup_env``)."""
    set_device = torch.cuda.set_device
    if not torch.cuda.is_available():
        torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = set_device
