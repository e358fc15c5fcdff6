# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""mmengine 0.10.7 on today's torch.

* **Weights-only checkpoints** (open-mmlab/mmengine#1655; mmengine <=
  0.10.7, torch >= 2.6). ``torch.load`` defaults to ``weights_only=True``
  since torch 2.6; mmengine calls it without the argument, and its
  checkpoints hold numpy arrays, dtypes and scalars and ``HistoryBuffer``
  besides tensors, so ``--resume``, ``load_from`` and ``init_model`` fail.
  :func:`apply` (run on ``import rgpnet_mmseg``) allow-lists exactly those
  types and registers a local-file loader that names a bad file.
* **Distributed without CUDA** (mmengine 0.10.7; no upstream issue).
  ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` whatever the
  backend, and ``Runner.wrap_model`` gives DDP ``device_ids``, which DDP
  refuses for a CPU module: :func:`cpu_distributed` (scoped, never on
  import) and :data:`CPU_DDP_WRAPPER`, for the CPU tests.
"""
import contextlib
import os.path as osp
import pickle
from typing import Any, Callable, Iterator, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

# ``model_wrapper_cfg`` for a CPU module: config values win over the
# ``device_ids=[LOCAL_RANK]`` that ``Runner.wrap_model`` passes as default.
CPU_DDP_WRAPPER = dict(
    type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False)


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be loaded (corrupted or unsafe)."""


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


def load_from_local_weights_only(filename: str,
                                 map_location: Optional[Any] = None) -> Any:
    """mmengine's local-file loader after :func:`apply`: weights only.

    Raises:
        FileNotFoundError: The file does not exist.
        CheckpointError: The file is corrupted, or holds objects outside the
            weights-only allow-list (it is refused, not executed).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint file not found: {filename}')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        unsafe = _unsafe_globals(filename)
        if not unsafe:  # not a pickle we can read at all
            raise _corrupted(filename, err) from err
        raise CheckpointError(
            f'Refusing to load checkpoint {filename}: it holds objects '
            f'outside the weights-only allow-list ({", ".join(unsafe)}). '
            'Only tensors, plain containers and the data types mmengine '
            'writes are accepted. If you trust the file, re-save its state '
            f'dict with plain types. Detail: {err}') from err
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        # OSError: torch reports a zip archive cut short as EINVAL
        raise _corrupted(filename, err) from err


def _corrupted(filename: str, err: Exception) -> CheckpointError:
    return CheckpointError(
        f'Cannot read checkpoint {filename}: the file is truncated or '
        f'corrupted ({type(err).__name__}: {err})')


def _unsafe_globals(filename: str) -> List[str]:
    """Globals in ``filename`` that torch does not allow; empty when the
    file cannot be read as a checkpoint at all."""
    try:
        return list(
            torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except Exception:  # noqa: BLE001 - unreadable: the caller says so
        return []


def apply() -> None:
    """Allow-list mmengine's checkpoint types (idempotent)."""
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_weights_only, force=True)


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
