# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""mmdeploy 1.3.1 on torch >= 2.9 (checked with 2.13): :func:`apply` (run by
``import rgpnet_mmseg.deploy``) fixes its rewriter machinery; each fix
names its test. The ``dynamo=`` default: ``rgpnet_mmseg.deploy.exporter``."""
import contextlib
import copy
import functools
import importlib
from unittest import mock


def _fx_wrap_registry_is_a_dict() -> None:
    """mmdeploy 1.3.1's ``FunctionRewriter`` ``pop(-1)``'s torch.fx's
    ``_wrapped_fns_to_patch`` as a list, a dict by ``(id(globals), name)``
    in torch 2.x (fixed only then): an ``fx.wrap`` in torch.export ends in
    ``KeyError: -1``. Test: ``test_compat_fx_wrap_registry``."""
    from torch.fx import _symbolic_trace
    registry = getattr(_symbolic_trace, '_wrapped_fns_to_patch', None)
    if not isinstance(registry, dict):
        return
    from mmdeploy.core.rewriters import function_rewriter as fr

    def _fx_wrap_copied_fn(func, copied_func):
        for (_, name), frame_globals in list(registry.items()):
            if frame_globals is getattr(func, '__globals__', None):
                registry[(id(copied_func.__globals__),
                          name)] = copied_func.__globals__

    enter, exit_ = fr.FunctionRewriter.enter, fr.FunctionRewriter.exit

    def patched_enter(self, *args, **kwargs):
        self._rgpnet_fx_keys = set(registry)
        return enter(self, *args, **kwargs)

    def patched_exit(self):
        for key in set(registry) - getattr(self, '_rgpnet_fx_keys', set()):
            del registry[key]
        self._ori_fx_wrap_num = len(registry)  # nothing left for mmdeploy
        return exit_(self)

    fr._fx_wrap_copied_fn = _fx_wrap_copied_fn
    fr.FunctionRewriter.enter = patched_enter
    fr.FunctionRewriter.exit = patched_exit


def _torchscript_symbolics_moved() -> None:
    """torch >= 2.9's ``torch.onnx.symbolic_opset11`` lacks the private
    ``_prepare_onnx_paddings`` (moved to ``torchscript_exporter``), so
    mmdeploy's TensorRT rewriter of it (dynamic ``F.pad``) is skipped:
    re-exposed. Test: ``test_compat_torchscript_symbolics``."""
    try:
        internal = importlib.import_module(
            'torch.onnx._internal.torchscript_exporter.symbolic_opset11')
        public = importlib.import_module('torch.onnx.symbolic_opset11')
    except ImportError:
        return
    if not hasattr(public, '_prepare_onnx_paddings'):
        public._prepare_onnx_paddings = internal._prepare_onnx_paddings


def export_sdk_info(deploy_cfg, model_cfg, work_dir: str, **kwargs) -> None:
    """mmdeploy 1.3.1's ``export2SDK`` on copies: it writes ``with_argmax``
    into the decode head config. Test: ``test_deploy_tool_onnxruntime``."""
    from mmdeploy.backend.sdk.export_info import export2SDK
    export2SDK(copy.deepcopy(deploy_cfg), copy.deepcopy(model_cfg), work_dir,
               **kwargs)


def tensorrt_task_on_cpu(enabled: bool = True):
    """Inside, mmdeploy 1.3.1's task processor takes the CPU for TensorRT
    (export, calibration). Test: ``test_tensorrt_int8_calibration_on_cpu``."""
    from mmdeploy.apis.utils import utils
    if not enabled:
        return contextlib.nullcontext()
    return mock.patch.object(utils, 'check_backend_device',
                             lambda deploy_cfg, device: None)


@functools.cache  # idempotent: the fixes are applied once
def apply() -> None:
    """Apply the fixes."""
    _fx_wrap_registry_is_a_dict()
    _torchscript_symbolics_moved()


def backend_segmentors():
    """mmdeploy 1.3.1's (module-private) mmseg backend-model registry."""
    from mmdeploy.codebase.mmseg.deploy import segmentation_model
    return vars(segmentation_model)['__BACKEND_MODEL']
