# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Stop training at the first NaN/inf loss, before it reaches a checkpoint
(mmengine steps on any loss, so a diverged run writes NaN checkpoints and
``max_keep_ckpts`` deletes the good ones)."""
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

    Checks the outputs' ``*loss*`` items before ``EMAHook``, ``LoggerHook``,
    ``ParamSchedulerHook`` and ``CheckpointHook`` run; one ``all_reduce``
    stops all ranks at the same iteration.

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

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None,
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
