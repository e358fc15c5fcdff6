# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""mmengine 0.10.7 on today's torch: weights-only ``torch.load`` (torch >= 2.6,
open-mmlab/mmengine#1655; :func:`apply` allow-lists the numpy and
``HistoryBuffer`` types of mmengine's checkpoints); distributed without CUDA
(:func:`cpu_distributed`, :data:`CPU_DDP_WRAPPER`)."""
import contextlib
import pickle
from typing import Any, Callable, ContextManager
from unittest import mock

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# ``model_wrapper_cfg`` for a CPU module (wins over wrap_model's device_ids)
CPU_DDP_WRAPPER = dict(
    type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False)


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, unsafe or does not fit."""


def _history_buffer_getattr(obj: Any, name: str) -> Callable:
    """``builtins.getattr`` for weights-only unpickling: only the
    ``HistoryBuffer`` methods its pickles name (others could reach any)."""
    if obj is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'getattr({getattr(obj, "__name__", type(obj).__name__)!r}, '
        f'{name!r}) is not allowed in a weights-only checkpoint')


def apply() -> None:
    """Allow-list mmengine's checkpoint types (idempotent)."""
    torch.serialization.add_safe_globals([
        np.ndarray, np.dtype,
        np.zeros(1).__reduce__()[0],  # numpy's array _reconstruct
        np.float64(0).__reduce__()[0],  # numpy's scalar reconstruction
        # numpy >= 1.25 pickles dtypes by their classes, e.g. Float64DType
        *(type(np.dtype(t)) for t in 'bool int8 int16 int32 int64 uint8 '
          'float16 float32 float64'.split()),
        HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')])


def cpu_distributed() -> ContextManager:
    """Without CUDA, ``torch.cuda.set_device`` a no-op inside (gloo set-up)."""
    return contextlib.nullcontext() if torch.cuda.is_available() else \
        mock.patch.object(torch.cuda, 'set_device', lambda device: None)
