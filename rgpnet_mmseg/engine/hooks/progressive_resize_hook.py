# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Progressive resizing of RGPNet (paper sec. 3.2 / 4.4) as an mmengine
hook."""
import bisect
import logging
from numbers import Integral
from typing import Any, List, Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop

from rgpnet_mmseg.models.data_preprocessors import check_train_scale

__all__ = ['ProgressiveResizeHook']


@HOOKS.register_module()
class ProgressiveResizeHook(Hook):
    """Train at a scale that grows with the schedule (progressive resizing).

    ``stages`` is a list of ``(start, scale)`` pairs: from iteration (or
    epoch, with ``by_epoch=True``) ``start`` on, training batches are
    resized to ``scale`` times the training crop, until the next stage
    starts.  The paper's Cityscapes schedule (sec. 4.4) is, by epoch::

        custom_hooks = [dict(type='ProgressiveResizeHook', by_epoch=True,
                             stages=[(0, 0.25), (100, 0.5), (130, 1.0)])]

    The resizing itself is done by the model's data preprocessor, which
    must be a :class:`ProgressiveResizeDataPreProcessor` (or anything with
    a ``train_scale`` attribute): set
    ``model.data_preprocessor.type='ProgressiveResizeDataPreProcessor'``.
    Before every training iteration (and epoch) the hook sets
    ``data_preprocessor.train_scale`` (of the unwrapped model, under DDP
    too) to the scale of the stage holding ``runner.iter`` (or
    ``runner.epoch``), and records it as the ``train/scale`` scalar, which
    the ``LoggerHook`` prints with the loss and the learning rate.
    Validation and test batches are never resized.

    The stage is derived from the runner's iteration/epoch every time, so
    nothing needs saving: a run resumed with ``--resume`` (which restores
    ``runner.iter``/``runner.epoch``) goes on at the scale of the stage it
    stopped in.  Every rank derives the same scale.  After training the
    scale is set back to 1.

    Rules for ``stages`` (checked when the hook is built, ``ValueError``
    otherwise): non-empty; each entry a ``(start, scale)`` pair; starts are
    integers, strictly increasing, the first one 0 (so every iteration has
    a defined scale); scales are in ``(0, 1]`` (a fraction of the training
    crop; to train bigger change the crop).  Scales need not increase.  A
    schedule whose last scale is not 1 only gets a warning (training then
    never sees the full size the model is evaluated at), as do stages that
    start after the end of training.

    Batch size and learning rate are left alone.  The paper grows the batch
    while the images are small (sec. 3.2); an mmengine dataloader's batch
    size is fixed when it is built (its sampler, workers and the
    dataloader-skipping of ``--resume`` depend on it), so it cannot follow
    the stages.  Scaling the learning rate instead is not done either: the
    learning rate belongs to the ``param_scheduler`` (chained schedulers
    rescale the optimizer's current value at every step, and the
    optimizer's value is saved and restored on resume), so a multiplier
    from a hook would compound with them or be overwritten and would need
    resume state of its own.  Schedules that differ per stage can be
    written with ``param_scheduler`` entries whose ``begin``/``end`` are the
    stage boundaries.

    Args:
        stages (Sequence[tuple[int, float]]): ``(start, scale)`` pairs, see
            above.
        by_epoch (bool): ``start`` counts epochs (needs an epoch-based
            train loop) instead of iterations. Default: False.
    """

    priority = 'NORMAL'

    def __init__(self,
                 stages: Sequence[Tuple[int, float]],
                 by_epoch: bool = False) -> None:
        self.stages = self._check_stages(stages)
        self.by_epoch = bool(by_epoch)
        self._starts = [start for start, _ in self.stages]
        self._scale: Optional[float] = None
        unit = 'epoch' if self.by_epoch else 'iteration'
        if self.stages[-1][1] != 1.0:
            print_log(
                f'ProgressiveResizeHook: the last stage (from {unit} '
                f'{self.stages[-1][0]}) trains at scale '
                f'{self.stages[-1][1]}, never at the full training size',
                logger='current',
                level=logging.WARNING)

    @staticmethod
    def _check_stages(stages: Any) -> List[Tuple[int, float]]:
        if isinstance(stages, (str, bytes)) or not isinstance(
                stages, Sequence) or len(stages) == 0:
            raise ValueError('ProgressiveResizeHook: stages must be a '
                             'non-empty list of (start, scale) pairs, got '
                             f'{stages!r}')
        checked = []
        for i, stage in enumerate(stages):
            if (isinstance(stage, (str, bytes))
                    or not isinstance(stage, Sequence) or len(stage) != 2):
                raise ValueError(
                    f'ProgressiveResizeHook: stages[{i}] must be a (start, '
                    f'scale) pair, got {stage!r}')
            start, scale = stage
            if (isinstance(start, bool) or not isinstance(start, Integral)
                    or start < 0):
                raise ValueError(
                    f'ProgressiveResizeHook: stages[{i}] starts at '
                    f'{start!r}; starts must be integers >= 0')
            scale = check_train_scale(
                scale, f'ProgressiveResizeHook: the scale of stages[{i}]')
            if checked and start <= checked[-1][0]:
                raise ValueError(
                    'ProgressiveResizeHook: stage starts must be strictly '
                    f'increasing, got {[s[0] for s in stages]}')
            checked.append((int(start), scale))
        if checked[0][0] != 0:
            raise ValueError(
                'ProgressiveResizeHook: the first stage must start at 0 '
                f'(got {checked[0][0]}), so that every iteration has a scale')
        return checked

    def scale_at(self, step: int) -> float:
        """The scale of the stage holding iteration/epoch ``step``."""
        return self.stages[bisect.bisect_right(self._starts, step) - 1][1]

    @staticmethod
    def data_preprocessor(runner) -> Any:
        """The (unwrapped) model's data preprocessor, checked to be one
        that can resize."""
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        preprocessor = getattr(model, 'data_preprocessor', None)
        if not hasattr(preprocessor, 'train_scale'):
            raise TypeError(
                'ProgressiveResizeHook needs a data preprocessor that can '
                'resize training batches (one with a `train_scale`, e.g. '
                'ProgressiveResizeDataPreProcessor), but the model has '
                f'{type(preprocessor).__name__}. Set model.data_preprocessor'
                ".type='ProgressiveResizeDataPreProcessor' in the config.")
        return preprocessor

    def _step(self, runner) -> int:
        return runner.epoch if self.by_epoch else runner.iter

    def _apply(self, runner) -> float:
        step = self._step(runner)
        scale = self.scale_at(step)
        if scale != self._scale:
            unit = 'epoch' if self.by_epoch else 'iter'
            print_log(
                f'ProgressiveResizeHook: {unit} {step}: training at scale '
                f'{scale}',
                logger='current')
            self._scale = scale
        self.data_preprocessor(runner).train_scale = scale
        return scale

    def before_train(self, runner) -> None:
        """Check the model and the loop, set the scale of the current (maybe
        resumed) stage."""
        self.data_preprocessor(runner)
        self._scale = None
        unit, end = 'iteration', getattr(runner, 'max_iters', None)
        if self.by_epoch:
            loop = runner.train_loop
            unit, end = 'epoch', getattr(loop, 'max_epochs', None)
            # IterBasedTrainLoop has max_epochs = 1 and never moves its epoch
            if end is None or isinstance(loop, IterBasedTrainLoop):
                raise ValueError(
                    'ProgressiveResizeHook(by_epoch=True) needs an '
                    'epoch-based train loop (EpochBasedTrainLoop), got '
                    f'{type(runner.train_loop).__name__}; give the stages '
                    'in iterations with by_epoch=False')
        if end is not None:
            late = [start for start in self._starts if start >= end]
            if late:
                print_log(
                    f'ProgressiveResizeHook: stages starting at {unit} '
                    f'{late} never run (training ends at {unit} {end})',
                    logger='current',
                    level=logging.WARNING)
        self._apply(runner)

    def before_train_epoch(self, runner) -> None:
        """Set the scale of the epoch's stage."""
        if self.by_epoch:
            self._apply(runner)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Any = None) -> None:
        """Set the scale of the iteration's stage and log it."""
        scale = self._apply(runner)
        runner.message_hub.update_scalar('train/scale', scale)

    def after_train(self, runner) -> None:
        """Back to full size."""
        self.data_preprocessor(runner).train_scale = 1.0
        self._scale = None
