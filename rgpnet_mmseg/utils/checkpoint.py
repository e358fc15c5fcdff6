# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Does a checkpoint fit its config? The check of our entry points.

mmengine's own loader reads its checkpoints once :mod:`rgpnet_mmseg.compat`
allow-lists their types, but a bad file gives torch's traceback, and the
non-strict ``load_checkpoint`` takes another model's checkpoint with a line
per tensor that did not fit. :func:`check_checkpoint_fits` names a missing,
corrupt or unsafe file, or judges the checkpoint against the config's model
as ``load_checkpoint(..., strict=True)`` would, in one line and before
anything is written (tools/test.py, tools/deploy.py, ``build_segmenter``).
"""
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


def _one_line(err: BaseException) -> str:
    return f'{type(err).__name__}: {" ".join(str(err).split())}'


def read_checkpoint(filename: str) -> dict:
    """A local checkpoint, loaded on the CPU weights-only (tensors,
    containers, the allow-listed types) as mmengine's loader loads it.

    Raises:
        CheckpointError: The file is missing, truncated or corrupted, or
            holds objects outside the allow-list (refused, never run).
    """
    path = osp.expanduser(filename)
    if not osp.isfile(path):
        raise CheckpointError(f'Checkpoint file not found: {filename}')
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        try:
            unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
        except Exception:  # noqa: BLE001 - not a checkpoint at all
            unsafe = []
        if unsafe:
            raise CheckpointError(
                f'Refusing to load checkpoint {filename}: it holds objects '
                f'outside the weights-only allow-list ({", ".join(unsafe)}); '
                'if you trust it, re-save its state dict with plain types'
            ) from err
        raise _corrupted(filename, err) from err
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        raise _corrupted(filename, err) from err  # OSError: zip cut short
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'Checkpoint {filename} holds no state dict '
                              f'(a {type(checkpoint).__name__})')
    return checkpoint


def _corrupted(filename: str, err: BaseException) -> CheckpointError:
    return CheckpointError(f'Cannot read checkpoint {filename}: the file is '
                           f'truncated or corrupted ({_one_line(err)})')


def checkpoint_state_dict(checkpoint: dict) -> 'OrderedDict[str, Any]':
    """The state dict mmengine's ``_load_checkpoint_to_model`` loads: the
    ``state_dict`` entry (else the whole dict), ``module.`` prefixes
    stripped (:data:`REVISE_KEYS`), torch's ``_metadata`` kept."""
    state = checkpoint.get('state_dict', checkpoint)
    metadata = getattr(state, '_metadata', OrderedDict())
    for pattern, repl in REVISE_KEYS:
        state = OrderedDict((re.sub(pattern, repl, k), v)
                            for k, v in state.items())
    state._metadata = metadata
    return state


def compare_state_dicts(model_state: Dict[str, Any],
                        state: Dict[str, Any]) -> Fit:
    """Judge ``state`` against ``model_state`` by mmengine's
    ``load_state_dict`` rule: a model tensor is missing unless the state
    holds it (a BN's ``num_batches_tracked`` may be missing), a state
    tensor the model lacks is unexpected, and shapes must agree."""
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
    """The state dict of ``cfg.model``, built on the ``meta`` device (shapes
    only: no memory, no weight init, no pretrained file read)."""
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
    firsts = [f'first missing: {fit.missing[0]}'] if fit.missing else []
    if fit.unexpected:
        firsts.append(f'first unexpected: {fit.unexpected[0]}')
    if fit.shape:
        name, theirs, ours = fit.shape[0]
        firsts.append(f'first of another shape: {name}, {_shape(theirs)} in '
                      f'the checkpoint, {_shape(ours)} in the model')
    return (f'{len(fit.missing)} tensors missing, {len(fit.unexpected)} '
            f'unexpected, {len(fit.shape)} of another shape '
            f'({"; ".join(firsts)})')


def checkpoint_origin(checkpoint: dict) -> str:
    """What a checkpoint's meta says it is: its ``experiment_name`` and
    ``dataset_meta`` classes ('' when it says nothing)."""
    meta = checkpoint.get('meta', None) or {}
    origin = []
    if meta.get('experiment_name'):
        origin.append(f'experiment {meta["experiment_name"]!r}')
    classes = list((meta.get('dataset_meta', None) or {}).get('classes', ()))
    if classes:
        more = ', ...' if len(classes) > 5 else ''
        origin.append(f'{len(classes)} classes '
                      f'({", ".join(map(str, classes[:5]))}{more})')
    return f'the checkpoint is of {" with ".join(origin)}' if origin else ''


def check_checkpoint_fits(cfg, checkpoint: str) -> None:
    """Refuse, in one line, a checkpoint that mmengine's
    ``load_checkpoint(model, checkpoint, strict=True)`` would refuse for
    the model of ``cfg`` (str | Config, options applied).

    Raises:
        CheckpointError: The file is missing, corrupt or unsafe.
        CheckpointMismatchError: Its tensors do not fit: the counts, the
            first names and what the checkpoint's meta says it is.
    """
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
    """For tools/train.py, before the Runner: read the local checkpoint it
    will load (``load_from``; with ``resume`` and none, the latest in
    ``work_dir``, as the Runner finds it), naming a bad file."""
    from mmengine.runner.checkpoint import find_latest_checkpoint
    path = cfg.get('load_from', None) or (
        find_latest_checkpoint(cfg.work_dir) if cfg.get('resume') else None)
    if path and '://' not in path:  # URLs: mmengine's loaders
        read_checkpoint(path)
