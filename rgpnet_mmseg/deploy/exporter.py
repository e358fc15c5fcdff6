# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The one place that exports to ONNX, for mmdeploy and without it.

torch >= 2.9 has two exporters: the TorchScript one (``dynamo=False``,
"legacy"; mmdeploy 1.3.1's rewriters are written for it; it writes the
requested opset, 11 in our configs, which TensorRT 8.6 parses) and, the
default, ``torch.export`` (``dynamo=True``, needs ``onnxscript``, opset >=
18). :func:`choose_exporter` picks legacy while torch has it
(``RGPNET_ONNX_EXPORTER`` or ``tools/deploy.py --exporter`` override it);
:func:`export_onnx` runs it on a BN-fused model, also for mmdeploy."""
import importlib
import inspect
import logging
import os
import warnings
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_hw, is_rgpnet

logger = logging.getLogger('rgpnet_mmseg.deploy')

EXPORTER_ENV = 'RGPNET_ONNX_EXPORTER'
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
    """``'legacy'`` or ``'dynamo'``: ``requested`` (default
    ``$RGPNET_ONNX_EXPORTER``, else ``'auto'``: legacy while torch has it).
    The probes can be overridden (tests). Raises :class:`ExporterError` for
    an unknown name or an exporter that is not there."""
    requested = (requested or os.environ.get(EXPORTER_ENV)
                 or 'auto').strip().lower()
    if requested not in EXPORTER_CHOICES:
        raise ExporterError(
            f'Unknown ONNX exporter {requested!r} (from the argument or '
            f'${EXPORTER_ENV}); choose one of {", ".join(EXPORTER_CHOICES)}')
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
        f'use {EXPORTER_ENV}=dynamo (or auto)',
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


class SegmentorForExport(nn.Module):
    """An mmseg ``EncoderDecoder`` (eval mode) as mmdeploy exports it:
    normalised image in, ``decode_head`` logits (N, C, H, W) resized
    bilinearly to the input size out, or with ``with_argmax`` the labels
    (N, 1, H, W) int64."""

    def __init__(self, segmentor: nn.Module, with_argmax: bool = True):
        super().__init__()
        self.segmentor = segmentor
        self.with_argmax = with_argmax

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Forward function."""
        head = self.segmentor.decode_head
        logits = F.interpolate(
            head.forward(self.segmentor.extract_feat(inputs)),
            size=inputs.shape[2:], mode='bilinear',
            align_corners=head.align_corners)
        return logits.argmax(1, keepdim=True) if self.with_argmax else logits


def export_segmentor(segmentor: nn.Module, path: str,
                     input_shape: Sequence[int], *, with_argmax: bool = True,
                     dynamic: bool = False, exporter: Optional[str] = None,
                     opset_version: int = 11) -> Dict[str, Any]:
    """Export a BN-fused copy of an mmseg segmentor (not changed) without
    mmdeploy to ``path``, example input ``(H, W)`` ``input_shape``; labels
    or logits; ``dynamic``: dynamic batch, height and width. Returns
    :func:`export_onnx`'s dict."""
    from rgpnet_mmseg.models import fuse_conv_bn
    axes = {0: 'batch', 2: 'height', 3: 'width'}
    dynamic_axes = dict(input=axes, output=axes) if dynamic else None
    if is_rgpnet(segmentor) and not dynamic:
        check_hw(*input_shape, 'static ONNX input of the export')
    device = next(segmentor.parameters()).device
    wrapper = SegmentorForExport(fuse_conv_bn(segmentor), with_argmax).eval()
    with torch.no_grad():
        return export_onnx(
            wrapper, (torch.randn(1, 3, *input_shape, device=device), ),
            path, exporter=exporter, input_names=['input'],
            output_names=['output'], opset_version=opset_version,
            dynamic_axes=dynamic_axes)
