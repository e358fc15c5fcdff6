# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""One line on what ``load_from`` gave, instead of mmengine's line per
tensor that did not fit (those get the model's own values)."""
import logging
from typing import List

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

from rgpnet_mmseg.utils.checkpoint import (CheckpointMismatchError,
                                           checkpoint_state_dict,
                                           compare_state_dicts, describe_fit)


def _names(names: List[str], at_most: int = 3) -> str:
    return ', '.join(names[:at_most]) + (', ...' if len(names) > at_most
                                         else '')


@HOOKS.register_module()
class LoadSummaryHook(Hook):
    """Summarise ``load_from`` in one line (resuming is left alone).

    Raises:
        CheckpointMismatchError: Not one ``backbone.*`` tensor loads
            (another model, or a backbone file for ``init_cfg``).
    """
    priority = 'LOW'  # after hooks that edit the checkpoint (EMAHook)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if runner.cfg.get('resume', False):
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        own = model.state_dict()
        state = checkpoint_state_dict(checkpoint)
        fit = compare_state_dicts(own, state)
        source = runner.cfg.get('load_from', None) or 'the checkpoint'
        backbone = [k for k in own if k.startswith('backbone.')]
        if backbone and not any(k.startswith('backbone.') for k in fit.loaded):
            raise CheckpointMismatchError(
                f'load_from {source}: not one of the model\'s '
                f'{len(backbone)} backbone tensors loads from it '
                f'({describe_fit(fit)}). A backbone-only (e.g. ImageNet) '
                'file belongs in model.backbone.init_cfg')
        left = [f'{len(fit.shape)} of another shape in it '
                f'({_names([n for n, _, _ in fit.shape])})'] * bool(fit.shape)
        left += [f'{len(fit.missing)} missing from it '
                 f'({_names(fit.missing)})'] * bool(fit.missing)
        unused = (f'; {len(fit.unexpected)} of its tensors unused '
                  f'({_names(fit.unexpected)})') * bool(fit.unexpected)
        runner.logger.log(
            logging.WARNING if left or unused else logging.INFO,
            f'load_from {source}: {len(fit.loaded)} of the model\'s '
            f'{len(own)} tensors loaded; left at their initialisation: '
            f'{", ".join(left) or "none"}{unused}')
        for name in fit.unexpected:
            del state[name]
        for name in fit.missing + [n for n, _, _ in fit.shape]:
            state[name] = own[name]
        if 'state_dict' in checkpoint:
            checkpoint['state_dict'] = state
        else:
            checkpoint.clear()
            checkpoint.update(state)
