# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Stop training at the first NaN/inf loss, before it reaches a checkpoint.

mmengine's ``OptimWrapper`` steps on whatever the loss is, and mmseg's
``BaseSegmentor`` (through mmengine's ``BaseModel.parse_losses``) only sums
the losses, so a diverged run goes on writing NaN weights into its
checkpoints (and, with ``max_keep_ckpts``, deletes the good ones).
"""
import os.path as osp
from typing import Any, Optional

import torch
from mmengine.dist import all_reduce, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ['NonFiniteLossHook']


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` when a training loss is NaN or inf.

    After every training iteration the hook reads its parsed losses (the
    ``log_vars`` of ``parse_losses``: ``loss`` and every ``*loss*`` item
    such as ``decode.loss_ce``) and stops the run with one message naming
    the iteration (1-based, as ``Iter(train) [k/N]`` and ``iter_k.pth``),
    the non-finite losses with their values and ranks, and the last
    checkpoint written, which stays intact:

    * Priority ``ABOVE_NORMAL``: it runs before ``EMAHook``, ``LoggerHook``,
      ``ParamSchedulerHook`` and ``CheckpointHook`` of the same iteration,
      so the weights this iteration's step spoilt are never saved, averaged
      or logged as good, and ``max_keep_ckpts`` removes no good checkpoint.
    * Distributed: every rank's losses are summed into one ``(world_size,
      num_losses)`` table by a single ``all_reduce``, so all ranks stop at
      the same iteration with the same message (otherwise the ranks with
      finite losses, whose weights DDP already averaged with NaN gradients,
      go on and rank 0 could save a NaN checkpoint).

    Costs one host synchronisation per checked iteration and, distributed,
    one tiny all-reduce. Under ``AmpOptimWrapper`` the loss scaler handles a
    *gradient* overflow; this hook fires when the loss itself is not finite.
    Enabled through ``custom_hooks`` in ``configs/_base_/default_runtime.py``
    (a config setting its own ``custom_hooks`` must list it too).

    Args:
        interval (int): Check every ``interval`` iterations. Default: 1.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1) -> None:
        if (isinstance(interval, bool) or not isinstance(interval, int)
                or interval < 1):
            raise ValueError('NonFiniteLossHook: interval must be a positive '
                             f'integer, got {interval!r}')
        self.interval = interval

    @staticmethod
    def _last_checkpoint(runner) -> Optional[str]:
        """The checkpoint the ``CheckpointHook`` wrote last, if any."""
        last = runner.message_hub.get_info('last_ckpt')
        record = osp.join(runner.work_dir, 'last_checkpoint')
        if not last and osp.isfile(record):
            with open(record) as f:
                last = f.read().strip()
        return last or None

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[dict] = None) -> None:
        """Check this iteration's losses; raise if one is not finite."""
        if not self.every_n_train_iters(runner, self.interval) or \
                not isinstance(outputs, dict):
            return
        losses = {name: value for name, value in outputs.items()
                  if 'loss' in name and isinstance(value, torch.Tensor)}
        if not losses:
            return
        names = list(losses)
        local = torch.stack([value.detach().float().mean()
                             for value in losses.values()]).cpu()
        world_size, rank = get_world_size(), get_rank()
        table = local.new_zeros((world_size, len(names)))
        table[rank] = local
        if world_size > 1:
            # NaN/inf survive the sum: every rank learns about every rank
            all_reduce(table, op='sum')
        finite = torch.isfinite(table)
        if bool(finite.all()):
            return
        where = ' on rank {}' if world_size > 1 else ''
        bad = [f'{names[c]}={table[r, c].item()}{where.format(r)}'
               for r, c in (~finite).nonzero().tolist()]
        last = self._last_checkpoint(runner)
        kept = (f'The last checkpoint, {last}, was written before this '
                'iteration and is kept unchanged' if last else
                'No checkpoint had been written yet')
        raise FloatingPointError(
            f'Non-finite loss at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch}): {", ".join(bad)}. Training stopped before '
            f'this iteration was saved, logged or scheduled. {kept}. '
            'Lower the learning rate, clip gradients '
            '(optim_wrapper.clip_grad=dict(max_norm=...)) or check the '
            'data, then resume from that checkpoint.')
