# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Test-only hooks and CPU-distributed shims, loaded into a tools/train.py
run through a test config's ``custom_imports`` (the repository root is on
``PYTHONPATH``). Not part of the package.

* ``RecordHook`` writes, per rank, what every training iteration did
  (iteration, learning rate, progressive-resize scale, the input size the
  backbone really saw, the losses) and, at the end, hashes of the rank's
  parameters and buffers, to ``<work_dir>/record_<tag>_rank<r>.json``
  (``tag`` from ``$RGPNET_RECORD_TAG``), rewritten after every iteration so
  a killed run leaves its record.
* ``StallHook`` stops a run after a given iteration (after that
  iteration's checkpoint hook): it writes ``<work_dir>/stalled`` and sleeps,
  so that a test can SIGKILL it at a known point.
* ``PoisonHook`` fills the classifier's weights with NaN before a given
  iteration (a diverged model), on every rank or on one rank only.
* ``CPUDistributedRunner`` (``runner_type``): mmengine's ``Runner`` whose
  distributed set-up runs inside
  :func:`rgpnet_mmseg.compat.mmengine.cpu_distributed`, so that a gloo run
  starts on a machine without CUDA (mmengine 0.10.7); the test configs also
  set ``model_wrapper_cfg`` to ``compat.mmengine.CPU_DDP_WRAPPER``.
"""
import hashlib
import json
import os
import os.path as osp
import time
from typing import Any, Optional

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS, RUNNERS
from mmengine.runner import Runner

from rgpnet_mmseg.compat.mmengine import cpu_distributed


@RUNNERS.register_module()
class CPUDistributedRunner(Runner):
    """``Runner`` whose distributed set-up also works without CUDA."""

    def setup_env(self, env_cfg: dict) -> None:
        with cpu_distributed():
            super().setup_env(env_cfg)


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def tensor_hash(tensors) -> str:
    """sha256 over the names, shapes and bytes of ``(name, tensor)``."""
    digest = hashlib.sha256()
    for name, tensor in tensors:
        data = tensor.detach().cpu().contiguous()
        digest.update(f'{name}:{tuple(data.shape)}:{data.dtype}'.encode())
        digest.update(data.numpy().tobytes())
    return digest.hexdigest()


@HOOKS.register_module()
class RecordHook(Hook):
    """Record each iteration of this rank (see the module docstring)."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.record = dict(iters=[])
        self._input_shape: Optional[list] = None
        self._handle = None
        self._lr: Optional[float] = None

    def _path(self, runner) -> str:
        tag = os.environ.get('RGPNET_RECORD_TAG', 'run')
        return osp.join(runner.work_dir,
                        f'record_{tag}_rank{get_rank()}.json')

    def _dump(self, runner) -> None:
        path = self._path(runner)
        with open(path + '.tmp', 'w') as f:
            json.dump(self.record, f)
        os.replace(path + '.tmp', path)

    def before_train(self, runner) -> None:
        model = _unwrap(runner.model)

        def grab(module, args):
            self._input_shape = list(args[0].shape)

        self._handle = model.backbone.register_forward_pre_hook(grab)
        self.record.update(
            rank=get_rank(), start_iter=runner.iter, pid=os.getpid())

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Any = None) -> None:
        # before ParamSchedulerHook steps: the lr this iteration uses
        self._lr = runner.optim_wrapper.get_lr()['lr'][0]

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        model = _unwrap(runner.model)
        scale = getattr(model.data_preprocessor, 'train_scale', None)
        self.record['iters'].append(
            dict(
                iter=runner.iter + 1,
                lr=self._lr,
                scale=scale,
                input_shape=self._input_shape,
                files=[
                    s.metainfo.get('img_path')
                    for s in (data_batch or {}).get('data_samples', [])
                ],
                losses={
                    k: float(v)
                    for k, v in (outputs or {}).items() if 'loss' in k
                },
                # the weights after this iteration's step
                param_hash=tensor_hash(model.named_parameters())))
        self._dump(runner)

    def after_train(self, runner) -> None:
        model = _unwrap(runner.model)
        if self._handle is not None:
            self._handle.remove()
        self.record['param_hash'] = tensor_hash(model.named_parameters())
        self.record['buffer_hash'] = tensor_hash(
            (n, b) for n, b in model.named_buffers()
            if not n.endswith('num_batches_tracked'))
        self.record['final_iter'] = runner.iter
        self._dump(runner)


@HOOKS.register_module()
class StallHook(Hook):
    """After iteration ``after_iter`` (1-based, once its checkpoint is
    saved), write ``<work_dir>/stalled`` and wait to be killed."""

    priority = 'LOWEST'

    def __init__(self, after_iter: int) -> None:
        self.after_iter = after_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if runner.iter + 1 == self.after_iter:
            with open(osp.join(runner.work_dir, 'stalled'), 'w') as f:
                f.write(str(os.getpid()))
            time.sleep(600)


@HOOKS.register_module()
class PoisonHook(Hook):
    """Fill the decode head's classifier with NaN before iteration
    ``at_iter`` (1-based), on rank ``rank`` only if given: the loss of that
    iteration is NaN (on that rank; DDP does not re-broadcast parameters,
    so the other ranks' losses of that iteration stay finite)."""

    def __init__(self, at_iter: int, rank: Optional[int] = None) -> None:
        self.at_iter = at_iter
        self.rank = rank

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if runner.iter + 1 == self.at_iter and self.rank in (None,
                                                              get_rank()):
            with torch.no_grad():
                _unwrap(runner.model).decode_head.conv_seg.weight.fill_(
                    float('nan'))
