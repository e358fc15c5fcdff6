# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""mmdeploy's ``torch2onnx`` with our ``torch.onnx.export`` rewriter (an RGPNet
shape-checked and BN-fused); ``onnx_config.exporter``: TorchScript's
(``'legacy'``, mmdeploy 1.3.1's; the opset asked) or ``torch.export``'s
(``'dynamo'``, torch 2.9's default; opset >= 18): :func:`choose_exporter`."""
import contextlib
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
        with contextlib.suppress(ImportError):
            if hasattr(importlib.import_module(name), '_model_to_graph'):
                return True
    return not _DYNAMO_ARG  # torch < 2.5: the only exporter


def dynamo_exporter_available() -> bool:
    """Whether torch has the dynamo exporter and onnxscript is installed."""
    return _DYNAMO_ARG and importlib.util.find_spec('onnxscript') is not None


def choose_exporter(requested: Optional[str] = None, *,
                    legacy_available: Optional[bool] = None,
                    dynamo_available: Optional[bool] = None) -> str:
    """``'legacy'`` or ``'dynamo'``: ``requested`` (``'auto'``: legacy while
    torch has it), else :class:`ExporterError`; the probes overridable."""
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
    """(opset, IR version) of a dynamo graph brought to ``target_opset`` (or
    17, TensorRT 8.6's most) where onnx can, at its lowest IR version; below
    opset 18 (ReduceSum 13) minus noop_with_empty_axes, which ORT rejects."""
    import onnx
    from onnx import helper, version_converter
    model = onnx.load(path)
    opset = next(o.version for o in model.opset_import
                 if o.domain in ('', 'ai.onnx'))
    for version in sorted(v for v in {target_opset, 17} if v < opset):
        with contextlib.suppress(Exception):  # no adapter for an op
            converted = version_converter.convert_version(model, version)
            for node in converted.graph.node:
                reduce = node.op_type.startswith('Reduce') and version < (
                    13 if node.op_type == 'ReduceSum' else 18)
                for attr in [a for a in node.attribute if reduce and
                             a.name == 'noop_with_empty_axes']:
                    if attr.i:
                        raise ValueError(f'{node.name}: noop_with_empty_axes'
                                         f'=1 has no opset {version} form')
                    node.attribute.remove(attr)
            model, opset = converted, version
            break
    if not model.functions:  # IR 10 whatever the opset: older parsers fail
        main = [o for o in model.opset_import if o.domain in ('', 'ai.onnx')]
        model.ir_version = min(model.ir_version,
                               max(helper.find_min_ir_version_for(main), 7))
    onnx.save(model, path)
    return opset, model.ir_version


def export_onnx(model: nn.Module, args: Any, f: str, *,
                exporter: Optional[str] = None, export_fn=None,
                **kwargs) -> Dict[str, Any]:
    """Export ``model`` on ``args`` to ``f`` by ``export_fn`` (default
    ``torch.onnx.export``) with ``exporter``, ``kwargs`` mapped onto it.
    Returns ``exporter``, ``opset``, ``ir_version`` (dynamo), ``file``."""
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


class _SingleInput(nn.Module):
    """mmdeploy exports ``partial(forward, ...)`` taking ``*args``;
    torch.export matches ``dynamic_axes`` to named parameters only."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input: torch.Tensor):  # noqa: A002 - the ONNX name
        return self.model(input)


def _fused_copy(model: nn.Module) -> nn.Module:
    """A BN-fused copy of ``model``, an instance ``forward`` rebound to it."""
    fused = fuse_conv_bn(model)
    bound = model.__dict__.get('forward')
    if isinstance(bound, functools.partial):  # *args: torch.onnx would
        def forward(*args, **kwargs):  # pass keyword defaults as inputs
            return type(fused).forward(fused, *args, **kwargs)
        fused.forward = functools.partial(forward, *bound.args,
                                          **bound.keywords)
    return fused


# the running export's exporter: get_context() walks inspect.stack(), too slow
_EXPORTING: Dict[str, Optional[str]] = {'exporter': None}


@functools.cache  # idempotent
def register_rewriters() -> None:
    """``torch.onnx.export`` by :func:`export_onnx`; under dynamo mmdeploy's
    ``copy.deepcopy`` (350 s, not 15) and ``mark`` (shapes as ints) bypassed
    (``test_compat_deepcopy_rewriter``, ``test_dynamo_exporter_*``)."""
    from mmdeploy.core import FUNCTION_REWRITER
    from mmdeploy.utils import IR
    origin_deepcopy = copy.deepcopy  # a cell: mmdeploy patches dicts only

    @FUNCTION_REWRITER.register_rewriter(func_name='torch.onnx.export')
    def torch_onnx_export__rgpnet(model, args=(), f=None, **kwargs):
        ctx = FUNCTION_REWRITER.get_context()
        mode = choose_exporter(((ctx.cfg or {}).get('onnx_config')
                                or {}).get('exporter'))
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
        if _EXPORTING['exporter'] == 'dynamo':
            return xs
        return FUNCTION_REWRITER.get_context().origin_func(xs, *args, **kwargs)
