# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The export to ONNX: mmdeploy's ``torch2onnx`` with our rewriter of
``torch.onnx.export`` (:func:`register_rewriters`), the one export path.

torch >= 2.9 has two exporters: the TorchScript one (``dynamo=False``,
"legacy"; mmdeploy 1.3.1's rewriters are written for it; it writes the
requested opset, 11 in our configs, which TensorRT 8.6 parses) and, the
default, ``torch.export`` (``dynamo=True``, needs ``onnxscript``, opset >=
18). The deploy config's ``onnx_config.exporter`` (``tools/deploy.py
--exporter``) picks one, :func:`choose_exporter` resolves ``'auto'``
(legacy while torch has it); :func:`export_onnx` maps mmdeploy's
arguments onto it. For a model with an RGPNet head the rewriter also checks
the input shape and exports a BN-fused copy; other models are exported as
mmdeploy exports them."""
import copy
import functools
import importlib
import inspect
import logging
import os
import warnings
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn as nn

from rgpnet_mmseg.models import fuse_conv_bn
from .checks import check_export_input, is_rgpnet

logger = logging.getLogger('rgpnet_mmseg.deploy')

EXPORTER_CHOICES = ('auto', 'legacy', 'dynamo')
DYNAMO_MIN_OPSET = 18  # the dynamo exporter implements opset >= 18 only
_LEGACY_ONLY_ARGS = ('training', 'operator_export_type', 'do_constant_folding',
                     'custom_opsets', 'export_modules_as_functions',
                     'autograd_inlining')


class ExporterError(RuntimeError):
    """The requested ONNX exporter is not available."""


# probed at import, before an mmdeploy RewriterContext replaces the function
_DYNAMO_ARG = 'dynamo' in inspect.signature(torch.onnx.export).parameters


def legacy_exporter_available() -> bool:
    """Whether torch still has the TorchScript-based ONNX exporter."""
    for name in ('torch.onnx._internal.torchscript_exporter.utils',
                 'torch.onnx.utils'):
        try:
            if hasattr(importlib.import_module(name), '_model_to_graph'):
                return True
        except ImportError:
            pass
    return not _DYNAMO_ARG  # torch < 2.5: the only exporter


def dynamo_exporter_available() -> bool:
    """Whether torch has the dynamo exporter and onnxscript is installed."""
    return _DYNAMO_ARG and importlib.util.find_spec('onnxscript') is not None


def choose_exporter(requested: Optional[str] = None, *,
                    legacy_available: Optional[bool] = None,
                    dynamo_available: Optional[bool] = None) -> str:
    """``'legacy'`` or ``'dynamo'``: ``requested`` (default ``'auto'``:
    legacy while torch has it). The probes can be overridden (tests).
    Raises :class:`ExporterError` for an unknown name or an exporter that
    is not there."""
    requested = (requested or 'auto').strip().lower()
    if requested not in EXPORTER_CHOICES:
        raise ExporterError(
            f'Unknown ONNX exporter {requested!r} (onnx_config.exporter); '
            f'choose one of {", ".join(EXPORTER_CHOICES)}')
    legacy, dynamo = (probe() if given is None else given for probe, given in
                      ((legacy_exporter_available, legacy_available),
                       (dynamo_exporter_available, dynamo_available)))
    if requested == 'auto' and (legacy or dynamo):
        return 'legacy' if legacy else 'dynamo'
    if dict(auto=False, legacy=legacy, dynamo=dynamo)[requested]:
        return requested
    version = f'torch {torch.__version__}'
    raise ExporterError(dict(
        auto=f'{version} has no usable ONNX exporter: the TorchScript one is '
        'gone and the dynamo one needs `pip install onnxscript`',
        legacy=f'The TorchScript-based ONNX exporter is not in {version}; '
        'use --exporter dynamo (or auto)',
        dynamo=f'The dynamo ONNX exporter needs torch >= 2.5 and onnxscript '
        f'({version}, onnxscript '
        f'{"found" if importlib.util.find_spec("onnxscript") else "missing"})'
    )[requested])


def _finish_dynamo_graph(path: str, target_opset: int) -> Tuple[int, int]:
    """Bring a dynamo graph down to ``target_opset`` (or 17, the most
    TensorRT 8.6 parses) where onnx's converter can, and to the lowest IR
    version of its opset; returns (opset, IR version)."""
    import onnx
    from onnx import helper, version_converter
    model = onnx.load(path)
    opset = next(o.version for o in model.opset_import
                 if o.domain in ('', 'ai.onnx'))
    for version in sorted({target_opset, 17}):
        if version < opset:
            try:
                model = _drop_noop_attribute(
                    version_converter.convert_version(model, version),
                    version)
                opset = version
                break
            except Exception:  # noqa: BLE001 - no adapter for an op
                continue
    if not model.functions:  # IR 10 whatever the opset: older parsers fail
        main = [o for o in model.opset_import if o.domain in ('', 'ai.onnx')]
        model.ir_version = min(model.ir_version,
                               max(helper.find_min_ir_version_for(main), 7))
    onnx.save(model, path)
    return opset, model.ir_version


def _drop_noop_attribute(model, opset: int):
    """onnx's converter keeps ``noop_with_empty_axes`` on Reduce* nodes
    brought below the opset that added it (18; ReduceSum 13), which ONNX
    Runtime then rejects (e.g. ``adaptive_avg_pool2d`` to 1x1 of mmseg's
    PSPHead/UPerHead). Its default 0 is what older opsets do; 1 has no
    older form: ValueError."""
    for node in model.graph.node:
        if node.op_type.startswith('Reduce') and opset < (
                13 if node.op_type == 'ReduceSum' else 18):
            for attr in [a for a in node.attribute
                         if a.name == 'noop_with_empty_axes']:
                if attr.i:
                    raise ValueError(f'{node.name}: noop_with_empty_axes=1 '
                                     f'has no opset {opset} form')
                node.attribute.remove(attr)
    return model


def export_onnx(model: nn.Module, args: Any, f: str, *,
                exporter: Optional[str] = None, export_fn=None,
                **kwargs) -> Dict[str, Any]:
    """Export ``model`` (eval mode, BN fused) with example ``args`` to the
    file ``f`` with the chosen exporter (see :func:`choose_exporter`).

    ``kwargs`` (:func:`torch.onnx.export`'s, as mmdeploy passes them) are
    mapped onto it: ``dynamo=False`` for legacy; for dynamo ``dynamo=True``,
    opset >= 18, weights inside the file, no TorchScript-only arguments, the
    graph finished by :func:`_finish_dynamo_graph`. ``export_fn``: the
    ``torch.onnx.export`` to call (mmdeploy's rewriter passes the original).
    Returns ``exporter``, ``opset``, ``ir_version`` (dynamo) and ``file``.
    """
    mode = choose_exporter(exporter)
    opset = kwargs.get('opset_version') or DYNAMO_MIN_OPSET
    if mode == 'legacy' and _DYNAMO_ARG:
        kwargs['dynamo'] = False
    elif mode == 'dynamo':
        for key in _LEGACY_ONLY_ARGS:
            kwargs.pop(key, None)
        kwargs.update(dynamo=True, opset_version=max(opset, DYNAMO_MIN_OPSET),
                      external_data=False, report=False)
    with warnings.catch_warnings():  # our choice is deliberate
        warnings.filterwarnings('ignore', message=(
            "You are using the legacy TorchScript-based|.*'dynamic_axes' is "
            'not recommended'))
        (export_fn or torch.onnx.export)(model, args, f, **kwargs)
    info = dict(exporter=mode, opset=opset, file=os.fspath(f))
    if mode == 'dynamo':
        info['opset'], info['ir_version'] = _finish_dynamo_graph(
            info['file'], opset)
    logger.info(f'exported {info["file"]} with the {mode} exporter (torch '
                f'{torch.__version__}), opset {info["opset"]}')
    return info


def exporter_of(deploy_cfg: Any) -> str:
    """:func:`choose_exporter` of a deploy config's
    ``onnx_config.exporter``."""
    return choose_exporter(((deploy_cfg or {}).get('onnx_config')
                            or {}).get('exporter'))


class _SingleInput(nn.Module):
    """mmdeploy exports ``partial(forward, ...)`` taking ``*args``;
    torch.export matches ``dynamic_axes`` to named parameters only."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input: torch.Tensor):  # noqa: A002 - the ONNX name
        return self.model(input)


def _fused_copy(model: nn.Module) -> nn.Module:
    """A BN-fused copy of ``model`` (eval mode). mmdeploy's ``export``
    binds the predict arguments as an instance ``forward`` (a partial of the
    model's own): the copy gets its own, bound to the copy."""
    fused = fuse_conv_bn(model)
    bound = model.__dict__.get('forward')
    if isinstance(bound, functools.partial):  # *args: torch.onnx would
        def forward(*args, **kwargs):  # pass keyword defaults as inputs
            return type(fused).forward(fused, *args, **kwargs)
        fused.forward = functools.partial(forward, *bound.args,
                                          **bound.keywords)
    return fused


# the exporter of the export running now (set and reset by the rewriter of
# torch.onnx.export): the per-call rewriters below cannot afford mmdeploy's
# get_context(), which walks inspect.stack()
_EXPORTING: Dict[str, Optional[str]] = {'exporter': None}


@functools.cache  # idempotent
def register_rewriters() -> None:
    """mmdeploy 1.3.1 calls ``torch.onnx.export`` without ``dynamo=``;
    torch >= 2.9 defaults to the dynamo exporter (opset 18, a ``.data``
    file). Our rewriter of it (in mmdeploy's ``RewriterContext`` only) runs
    :func:`export_onnx` with the deploy config's exporter, for a model with
    an RGPNet head on a BN-fused copy (mmdeploy's optimiser needs a
    TorchScript extension its wheel lacks; the model passed in is not
    changed). Under dynamo two mmdeploy rewriters are replaced:
    ``copy.deepcopy`` walks ``inspect.stack()`` per call (350 s instead of
    15 s: torch.export deep-copies node metadata) and ``mark`` nodes read
    shapes as ints (torch.export specialises dynamic axes); under legacy
    they are mmdeploy's. Tests: ``test_deploy_tool_onnxruntime``,
    ``test_compat_deepcopy_rewriter``,
    ``test_dynamo_exporter_through_mmdeploy``.
    """
    from mmdeploy.core import FUNCTION_REWRITER
    from mmdeploy.utils import IR
    origin_deepcopy = copy.deepcopy  # a cell: mmdeploy patches dicts only

    @FUNCTION_REWRITER.register_rewriter(func_name='torch.onnx.export')
    def torch_onnx_export__rgpnet(model, args=(), f=None, **kwargs):
        ctx = FUNCTION_REWRITER.get_context()
        mode = exporter_of(ctx.cfg)
        if is_rgpnet(model):
            check_export_input(args, kwargs.get('dynamic_axes'),
                               kwargs.get('input_names'))
            model = _fused_copy(model)
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
