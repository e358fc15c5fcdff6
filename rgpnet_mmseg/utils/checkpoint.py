# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Does a checkpoint fit its config? :func:`check_checkpoint_fits` judges it
as ``load_checkpoint(..., strict=True)`` would, in one line, beforehand."""
import contextlib
import copy
import os.path as osp
import pickle
import re
import warnings
from collections import OrderedDict
from typing import Any, Dict, List, NamedTuple, Tuple

import torch

from rgpnet_mmseg.compat import CheckpointError
from .run_config import decode_head_cfg

#: mmengine's default ``revise_keys`` (``load_checkpoint``, the Runner's).
REVISE_KEYS = [(r'^module\.', '')]


class CheckpointMismatchError(CheckpointError):
    """A checkpoint whose tensors do not fit the model of the config."""


class Fit(NamedTuple):
    """How a checkpoint's state dict meets a model's (tensor names)."""
    loaded: List[str]
    missing: List[str]  # in the model, not in the checkpoint
    unexpected: List[str]  # in the checkpoint, not in the model
    shape: List[Tuple[str, tuple, tuple]]  # (name, checkpoint's, model's)


def read_checkpoint(filename: str) -> dict:
    """A local checkpoint, loaded weights-only on the CPU, as mmengine's;
    CheckpointError: missing, truncated or corrupted, or holding objects
    outside the allow-list (refused, never run)."""
    path = osp.expanduser(filename)
    if not osp.isfile(path):
        raise CheckpointError(f'Checkpoint file not found: {filename}')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError,
            OSError) as err:  # OSError: a zip cut short
        unsafe = []
        with contextlib.suppress(Exception):  # not a checkpoint at all
            if isinstance(err, pickle.UnpicklingError):
                unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(
                    path)
        if unsafe:
            raise CheckpointError(
                f'Refusing to load checkpoint {filename}: it holds objects '
                f'outside the weights-only allow-list ({", ".join(unsafe)}); '
                'if you trust it, re-save its state dict with plain types'
            ) from err
        raise CheckpointError(
            f'Cannot read checkpoint {filename}: the file is truncated or '
            f'corrupted ({type(err).__name__}: {" ".join(str(err).split())})'
        ) from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'Checkpoint {filename} holds no state dict '
                              f'(a {type(checkpoint).__name__})')
    return checkpoint


def checkpoint_state_dict(checkpoint: dict) -> 'OrderedDict[str, Any]':
    """The state dict mmengine's ``_load_checkpoint_to_model`` loads
    (``state_dict``, else all; :data:`REVISE_KEYS`; ``_metadata`` kept)."""
    state = checkpoint.get('state_dict', checkpoint)
    metadata = getattr(state, '_metadata', OrderedDict())
    for pattern, repl in REVISE_KEYS:
        state = OrderedDict((re.sub(pattern, repl, k), v)
                            for k, v in state.items())
    state._metadata = metadata
    return state


def compare_state_dicts(model_state: Dict[str, Any],
                        state: Dict[str, Any]) -> Fit:
    """``state`` against ``model_state`` by mmengine's ``load_state_dict``
    (a BN's ``num_batches_tracked`` may be missing)."""
    fit = Fit([], [], [k for k in state if k not in model_state], [])
    for name, value in model_state.items():
        theirs = tuple(getattr(state.get(name), 'shape', ()))
        if name not in state:
            if 'num_batches_tracked' not in name:
                fit.missing.append(name)
        elif theirs != tuple(value.shape):
            fit.shape.append((name, theirs, tuple(value.shape)))
        else:
            fit.loaded.append(name)
    return fit


def model_state_shapes(cfg) -> Dict[str, torch.Tensor]:
    """The state dict of ``cfg.model`` on the ``meta`` device (shapes only)."""
    from mmengine.registry import init_default_scope
    from mmengine.utils import import_modules_from_strings
    from mmseg.registry import MODELS
    if cfg.get('custom_imports', None):
        import_modules_from_strings(**cfg['custom_imports'])
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    with warnings.catch_warnings(), torch.device('meta'):
        warnings.simplefilter('ignore')  # mmseg's deprecation notes
        return MODELS.build(copy.deepcopy(cfg.model)).state_dict()


def _shape(shape: tuple) -> str:
    return 'x'.join(map(str, shape)) or 'scalar'


def describe_fit(fit: Fit) -> str:
    """``N tensors missing, N unexpected, N of another shape (first ...)``."""
    firsts = [f'first {what}: {names[0]}' for what, names in (
        ('missing', fit.missing), ('unexpected', fit.unexpected)) if names]
    if fit.shape:
        name, theirs, ours = fit.shape[0]
        firsts.append(f'first of another shape: {name}, {_shape(theirs)} in '
                      f'the checkpoint, {_shape(ours)} in the model')
    return (f'{len(fit.missing)} tensors missing, {len(fit.unexpected)} '
            f'unexpected, {len(fit.shape)} of another shape '
            f'({"; ".join(firsts)})')


def checkpoint_origin(checkpoint: dict) -> str:
    """What a checkpoint's meta says it is ('' when nothing)."""
    meta = checkpoint.get('meta', None) or {}
    classes = list((meta.get('dataset_meta', None) or {}).get('classes', ()))
    origin = [f'experiment {meta["experiment_name"]!r}'] if meta.get(
        'experiment_name') else []
    if classes:
        more = ', ...' if len(classes) > 5 else ''
        origin.append(f'{len(classes)} classes '
                      f'({", ".join(map(str, classes[:5]))}{more})')
    return f'the checkpoint is of {" with ".join(origin)}' if origin else ''


def check_checkpoint_fits(cfg, checkpoint: str) -> None:
    """Refuse in one line a checkpoint that ``load_checkpoint(...,
    strict=True)`` would refuse for the model of ``cfg`` (str | Config):
    CheckpointError (missing, corrupt, unsafe), CheckpointMismatchError (the
    counts, first names and what the checkpoint's meta says it is)."""
    from mmengine.config import Config
    if not isinstance(cfg, Config):
        cfg = Config.fromfile(cfg)
    ckpt = read_checkpoint(checkpoint)
    fit = compare_state_dicts(model_state_shapes(cfg),
                              checkpoint_state_dict(ckpt))
    if fit.missing or fit.unexpected or fit.shape:
        origin = checkpoint_origin(ckpt)
        classes = decode_head_cfg(cfg).get('num_classes', None)
        raise CheckpointMismatchError(
            f'Checkpoint {checkpoint} does not fit config {cfg.filename}: '
            f'{describe_fit(fit)}' + (f'; {origin}' if origin else '') +
            (f'; the config has {classes} classes' if classes else '') +
            '. Use the checkpoint trained with this config')


def check_load_from(cfg) -> None:
    """Read the local checkpoint the Runner will load (``load_from``, else
    with ``resume`` the latest in ``work_dir``), naming a bad file."""
    from mmengine.runner.checkpoint import find_latest_checkpoint
    path = cfg.get('load_from', None) or (
        find_latest_checkpoint(cfg.work_dir) if cfg.get('resume') else None)
    if path and '://' not in path:  # URLs: mmengine's loaders
        read_checkpoint(path)
