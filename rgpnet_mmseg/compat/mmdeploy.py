# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""What mmdeploy 1.3.1 needs on torch >= 2.9 (checked with torch 2.13).

:func:`apply` (run by ``import rgpnet_mmseg.deploy``) fixes mmdeploy's
rewriter machinery for torch.fx's new registry and the moved TorchScript
symbolics (site-packages are not edited); each names the upstream
problem, the versions, and the test in ``tests/test_deploy.py`` that fails
without it. The ``torch.onnx.export`` rewriter (the ``dynamo=`` default)
is the deploy layer's (:mod:`rgpnet_mmseg.deploy.exporter`); mmdeploy's
``protobuf<=3.20.2`` pin is handled at install (``--no-deps``)."""
import contextlib
import copy
import functools
import importlib


def _fx_wrap_registry_is_a_dict() -> None:
    """mmdeploy 1.3.1's ``FunctionRewriter`` treats
    ``torch.fx._symbolic_trace._wrapped_fns_to_patch`` as a list and
    ``pop(-1)``'s on leaving a ``RewriterContext``; in torch 2.x (2.13
    checked; the fix applies only then) it is a dict keyed by
    ``(id(globals), name)``: an export that adds an ``fx.wrap`` (torch.export
    does) ends in ``KeyError: -1``, and copies of fx-wrapped rewriters are
    not wrapped. Test: ``test_compat_fx_wrap_registry``."""
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
    """torch >= 2.9 moved the TorchScript exporter to
    ``torch.onnx._internal.torchscript_exporter``; the public
    ``torch.onnx.symbolic_opset11`` re-exports public names only, so
    mmdeploy 1.3.1's TensorRT rewriter of ``_prepare_onnx_paddings``
    (dynamic ``F.pad``) is skipped ("Can not find ..."): re-exposed there.
    Test: ``test_compat_torchscript_symbolics``."""
    try:
        internal = importlib.import_module(
            'torch.onnx._internal.torchscript_exporter.symbolic_opset11')
        public = importlib.import_module('torch.onnx.symbolic_opset11')
    except ImportError:
        return
    if not hasattr(public, '_prepare_onnx_paddings'):
        public._prepare_onnx_paddings = internal._prepare_onnx_paddings


def export_sdk_info(deploy_cfg, model_cfg, work_dir: str, **kwargs) -> None:
    """mmdeploy 1.3.1's ``export2SDK`` (mmseg's ``get_postprocess``) writes
    ``with_argmax`` into the decode head config it is given: a model built
    from it afterwards fails ("unexpected keyword argument 'with_argmax'").
    It gets copies. Test: ``test_deploy_tool_onnxruntime`` (the parity
    check builds the model after it)."""
    from mmdeploy.backend.sdk.export_info import export2SDK
    export2SDK(copy.deepcopy(deploy_cfg), copy.deepcopy(model_cfg), work_dir,
               **kwargs)


@contextlib.contextmanager
def tensorrt_task_on_cpu(enabled: bool = True):
    """mmdeploy 1.3.1's ``build_task_processor`` refuses the CPU for a
    TensorRT deploy config (``check_backend_device``), though the ONNX
    export and the INT8 calibration file need no GPU; inside, it allows
    it, so that ``tools/deploy.py`` makes both on a machine without one.
    Test: ``test_tensorrt_int8_calibration_on_cpu``."""
    from mmdeploy.apis.utils import utils
    check = utils.check_backend_device
    if enabled:
        utils.check_backend_device = lambda deploy_cfg, device: None
    try:
        yield
    finally:
        utils.check_backend_device = check


@functools.cache  # idempotent: the fixes are applied once
def apply() -> None:
    """Apply the fixes."""
    _fx_wrap_registry_is_a_dict()
    _torchscript_symbolics_moved()


def backend_segmentors():
    """mmdeploy 1.3.1's mmseg backend-model registry (``model_type``), a
    module-private ``__BACKEND_MODEL`` in
    ``mmdeploy/codebase/mmseg/deploy/segmentation_model.py``."""
    from mmdeploy.codebase.mmseg.deploy import segmentation_model
    return vars(segmentation_model)['__BACKEND_MODEL']
