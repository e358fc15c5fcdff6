# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""What mmdeploy 1.3.1 needs on torch >= 2.9 (checked with torch 2.13).

:func:`apply` (run by ``import rgpnet_mmseg.deploy``) installs each fix
through mmdeploy's rewriter registry where it can (site-packages are not
edited); each names the upstream problem, the versions, and the test in
``tests/test_deploy.py`` that fails without it. mmdeploy's
``protobuf<=3.20.2`` pin is handled at install (``--no-deps``)."""
import contextlib
import copy
import functools
import importlib
from typing import Dict, Optional

import torch
import torch.nn as nn

# the exporter of the export mmdeploy runs now (read by the rewriters below)
_EXPORTING: Dict[str, Optional[str]] = {'exporter': None}


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


class _SingleInput(nn.Module):
    """mmdeploy exports ``partial(forward, ...)`` taking ``*args``;
    torch.export matches ``dynamic_axes`` to named parameters only."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input: torch.Tensor):  # noqa: A002 - the ONNX name
        return self.model(input)


def _register_rewriters() -> None:
    """mmdeploy 1.3.1 calls ``torch.onnx.export`` without ``dynamo=``;
    torch >= 2.9 defaults to the dynamo exporter (opset 18, a ``.data``
    file). Our rewriter of it (in mmdeploy's ``RewriterContext`` only) runs
    :func:`rgpnet_mmseg.deploy.exporter.export_onnx` with the chosen
    exporter on the BN-fused model (mmdeploy's optimiser needs a TorchScript
    extension its wheel lacks). Under dynamo two mmdeploy rewriters are
    replaced: ``copy.deepcopy`` walks ``inspect.stack()`` per call (350 s
    instead of 15 s: torch.export deep-copies node metadata) and ``mark``
    nodes read shapes as ints (torch.export specialises dynamic axes).
    Tests: ``test_deploy_tool_onnxruntime`` (opset 11, one file),
    ``test_compat_deepcopy_rewriter``,
    ``test_dynamo_exporter_through_mmdeploy``."""
    from mmdeploy.core import FUNCTION_REWRITER
    from mmdeploy.utils import IR

    from rgpnet_mmseg.deploy.checks import check_export_input, is_rgpnet
    from rgpnet_mmseg.deploy.exporter import choose_exporter, export_onnx
    from rgpnet_mmseg.models import fuse_conv_bn
    origin_deepcopy = copy.deepcopy  # a cell: mmdeploy patches dicts only

    @FUNCTION_REWRITER.register_rewriter(func_name='torch.onnx.export')
    def torch_onnx_export__rgpnet(model, args=(), f=None, **kwargs):
        ctx = FUNCTION_REWRITER.get_context()
        if is_rgpnet(model):
            check_export_input(args, kwargs.get('dynamic_axes'),
                               kwargs.get('input_names'))
        mode = choose_exporter()
        fuse_conv_bn(model, inplace=True)  # mmdeploy's copy, in eval mode
        if mode == 'dynamo':
            args = (args, ) if isinstance(args, torch.Tensor) else args
            if len(args) == 1:
                model = _SingleInput(model)
        _EXPORTING['exporter'] = mode
        try:
            return export_onnx(model, args, f, exporter=mode,
                               export_fn=ctx.origin_func, **kwargs)
        finally:
            _EXPORTING['exporter'] = None

    @FUNCTION_REWRITER.register_rewriter(func_name='copy.deepcopy', ir=IR.ONNX)
    def copy__deepcopy__rgpnet(x, *args, **kwargs):
        # mmdeploy's rewriter (a tensor is cloned) without get_context()
        if _EXPORTING['exporter'] != 'dynamo' and isinstance(
                x, torch.Tensor) and not args and not kwargs:
            return x.clone()
        return origin_deepcopy(x, *args, **kwargs)

    @FUNCTION_REWRITER.register_rewriter(
        func_name='mmdeploy.core.optimizers.function_marker.mark_tensors')
    def mark_tensors__rgpnet(xs, *args, **kwargs):
        ctx = FUNCTION_REWRITER.get_context()
        if _EXPORTING['exporter'] == 'dynamo':
            return xs
        return ctx.origin_func(xs, *args, **kwargs)


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
    _register_rewriters()
