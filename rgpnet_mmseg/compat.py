# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Compatibility of the OpenMMLab 2.x stack with today's PyTorch.

Everything that our supported versions need and their releases do not do
lives here, applied through the libraries' own extension points, never by
editing site-packages. Importing :mod:`rgpnet_mmseg` applies it once.

* ``torch.load`` defaults to ``weights_only=True`` since torch 2.6, while
  mmengine 0.10.7 calls it without the argument. An mmengine checkpoint
  holds, besides tensors, a few plain data types: numpy arrays and scalars
  and mmengine's ``HistoryBuffer`` (the logged scalars of the
  ``MessageHub``). We allow-list exactly those, keep weights-only loading
  on, and replace mmengine's local-file checkpoint loader with one that
  gives a clear error for a missing, corrupted or unsafe file.
"""
import os.path as osp
import pickle
from typing import Any, Callable, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be loaded (corrupted or unsafe)."""


def _history_buffer_getattr(obj: Any, name: str) -> Callable:
    """Stand-in for ``builtins.getattr`` inside weights-only unpickling.

    ``HistoryBuffer.__getstate__`` pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')`` and so on. A general ``getattr`` would
    let a crafted file walk to any object, so this one resolves only the
    statistics methods of ``HistoryBuffer`` and refuses everything else.
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
        np.ndarray,
        np.dtype,
        np.zeros(1).__reduce__()[0],  # numpy's array _reconstruct
        np.float64(0).__reduce__()[0],  # numpy's scalar reconstruction
    ]
    # numpy >= 1.25 pickles dtypes through their classes, e.g. Float64DType.
    numpy_types += [
        type(np.dtype(t)) for t in (np.bool_, np.int8, np.int16, np.int32,
                                    np.int64, np.uint8, np.float16,
                                    np.float32, np.float64)
    ]
    return numpy_types + [
        HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
    ]


def load_from_local_weights_only(filename: str,
                                 map_location: Optional[Any] = None) -> Any:
    """Load a local checkpoint with ``torch.load(weights_only=True)``.

    Registered as mmengine's loader for local paths, so ``Runner.resume``,
    ``tools/test.py --checkpoint`` and ``load_checkpoint`` all use it.

    Args:
        filename (str): Path of the checkpoint.
        map_location (optional): Same as :func:`torch.load`.

    Returns:
        dict: The loaded checkpoint.

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
    """Names of the globals in ``filename`` that torch does not allow;
    empty when the file cannot be read as a checkpoint at all."""
    try:
        return list(
            torch.serialization.get_unsafe_globals_in_checkpoint(filename))
    except Exception:  # noqa: BLE001 - unreadable: the caller says so
        return []


def apply() -> None:
    """Apply the compatibility fixes (idempotent)."""
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_weights_only, force=True)
