# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Progressive resizing of RGPNet (paper sec. 3.2 / 4.4) as a hook."""
import bisect
import logging
import math
from numbers import Integral, Real
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

    From iteration (epoch) ``start`` of each ``(start, scale)`` stage on,
    the ``train_scale`` of the model's
    :class:`ProgressiveResizeDataPreProcessor` is ``scale`` (logged as
    ``train/scale``, derived from the runner so ``--resume`` and all
    ranks agree; 1 after training). The paper's schedule (table 4)::

        custom_hooks = [dict(type='ProgressiveResizeHook', fraction=True,
                             stages=[(0, 0.25), (0.6, 0.5), (0.8, 1.0)])]

    Starts: integers (fractions in ``[0, 1)``, rounded half up in
    ``before_train``), strictly increasing from 0, before the end of
    training; scales in ``(0, 1]`` (docs/progressive_resizing.md).

    Args:
        stages (Sequence[tuple[int, float]]): ``(start, scale)`` pairs.
        by_epoch (bool): ``start`` counts epochs (epoch-based loop only).
            Default: False.
        fraction (bool): ``start`` is a fraction of ``max_iters``
            (``max_epochs``). Default: False.
    """

    priority = 'NORMAL'

    def __init__(self, stages: Sequence[Tuple[int, float]],
                 by_epoch: bool = False, fraction: bool = False) -> None:
        self.fraction = bool(fraction)
        self.stages = self._check_stages(stages, self.fraction)
        self.by_epoch = bool(by_epoch)
        self._starts = None if self.fraction else [s for s, _ in self.stages]
        self._scale: Optional[float] = None
        unit = 'fraction' if fraction else 'epoch' if by_epoch else 'iteration'
        if self.stages[-1][1] != 1.0:
            print_log(
                f'ProgressiveResizeHook: the last stage (from {unit} '
                f'{self.stages[-1][0]}) trains at scale '
                f'{self.stages[-1][1]}, never at the full training size',
                logger='current', level=logging.WARNING)

    @staticmethod
    def _check_stages(stages: Any,
                      fraction: bool) -> List[Tuple[float, float]]:
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
            kind = Real if fraction else Integral
            if (isinstance(start, bool) or not isinstance(start, kind)
                    or not 0 <= start < (1 if fraction else math.inf)):
                raise ValueError(
                    f'ProgressiveResizeHook: stages[{i}] starts at {start!r}; '
                    + ('fractions of training must be in [0, 1)' if fraction
                       else 'starts must be integers >= 0 (fractions of '
                       'the training length need fraction=True)'))
            scale = check_train_scale(
                scale, f'ProgressiveResizeHook: the scale of stages[{i}]')
            if checked and start <= checked[-1][0]:
                raise ValueError(
                    'ProgressiveResizeHook: stage starts must be strictly '
                    f'increasing, got {[s[0] for s in stages]}')
            checked.append((start if fraction else int(start), scale))
        if checked[0][0] != 0:
            raise ValueError(
                'ProgressiveResizeHook: the first stage must start at 0 '
                f'(got {checked[0][0]}), so that every iteration has a scale')
        return checked

    def scale_at(self, step: int) -> float:
        """The scale of the stage holding iteration/epoch ``step``."""
        if self._starts is None:
            raise RuntimeError('ProgressiveResizeHook: fraction stages are '
                               'resolved in before_train')
        return self.stages[bisect.bisect_right(self._starts, step) - 1][1]

    @staticmethod
    def data_preprocessor(runner) -> Any:
        """The (unwrapped) model's data preprocessor, checked to resize."""
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        preprocessor = getattr(model, 'data_preprocessor', None)
        if not hasattr(preprocessor, 'train_scale'):
            raise TypeError(
                'ProgressiveResizeHook needs a data preprocessor that can '
                'resize training batches (one with a `train_scale`, e.g. '
                'ProgressiveResizeDataPreProcessor), but the model has '
                f'{type(preprocessor).__name__}. Set model.data_preprocessor'
                ".type='ProgressiveResizeDataPreProcessor' in the config.")
        return preprocessor

    def _apply(self, runner) -> float:
        step = runner.epoch if self.by_epoch else runner.iter
        scale = self.scale_at(step)
        if scale != self._scale:
            unit = 'epoch' if self.by_epoch else 'iter'
            print_log(f'ProgressiveResizeHook: {unit} {step}: training at '
                      f'scale {scale}', logger='current')
            self._scale = scale
        self.data_preprocessor(runner).train_scale = scale
        return scale

    def before_train(self, runner) -> None:
        """Check the model and loop; set the (maybe resumed) stage's scale."""
        self.data_preprocessor(runner)
        self._scale = None
        unit, end = 'iteration', getattr(runner, 'max_iters', None)
        if self.by_epoch:
            loop = runner.train_loop
            unit, end = 'epoch', getattr(loop, 'max_epochs', None)
            # IterBasedTrainLoop: max_epochs = 1, epoch never moves
            if end is None or isinstance(loop, IterBasedTrainLoop):
                raise ValueError(
                    'ProgressiveResizeHook(by_epoch=True) needs an '
                    'epoch-based train loop (EpochBasedTrainLoop), got '
                    f'{type(runner.train_loop).__name__}; give the stages '
                    'in iterations with by_epoch=False')
        self._starts = self.resolve(end, unit)
        self._apply(runner)

    def resolve(self, end: Optional[int], unit: str = 'iteration') -> list:
        """The starts in iterations (epochs) of a run of ``end``; checked."""
        starts = [s for s, _ in self.stages]
        if self.fraction:
            starts = [int(math.floor(f * end + 0.5)) for f in starts]
        if end is not None and (starts[-1] >= end or len(set(starts)) <
                                len(starts)):
            raise ValueError(
                f'ProgressiveResizeHook: stages {self.stages} start at '
                f'{unit}s {starts}, but training ends at {unit} {end}: each '
                'stage must start before the end, at its own start')
        return starts

    def before_train_epoch(self, runner) -> None:
        """Set the scale of the epoch's stage."""
        if self.by_epoch:
            self._apply(runner)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Any = None) -> None:
        """Set the scale of the iteration's stage and log it."""
        scale = self._apply(runner)
        runner.message_hub.update_scalar('train/scale', scale)

    def after_train(self, runner) -> None:
        """Back to full size."""
        self.data_preprocessor(runner).train_scale = 1.0
        self._scale = None
