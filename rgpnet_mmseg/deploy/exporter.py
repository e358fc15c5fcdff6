# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The one place that decides which ONNX exporter converts our models.

torch >= 2.9 has two exporters behind ``torch.onnx.export``:

* ``dynamo=False``: the TorchScript-based ("legacy") exporter that
  mmdeploy 1.3.1 was written for - its rewriters, symbolic functions and
  graph passes hook into it, it writes the requested opset (11 in
  mmdeploy's configs, which TensorRT 8.6 parses) and folds BN into Conv.
  Deprecated, still in torch 2.13.
* ``dynamo=True``: the ``torch.export`` based exporter, the default since
  torch 2.9 (needs ``onnxscript``). It writes opset >= 18, weights as an
  external ``.data`` file by default, and ignores mmdeploy's symbolic
  rewriters (RGPNet needs none).

:func:`choose_exporter` picks the legacy exporter while it exists and
the dynamo exporter once it is gone; ``RGPNET_ONNX_EXPORTER=legacy|dynamo``
(or the ``exporter`` argument, ``tools/deploy.py --exporter``) overrides
it. :func:`export_onnx` runs the chosen exporter with matching arguments
and post-processes the file (BN folding, single file, opset). mmdeploy's
own call is routed through it by a function rewriter of
``torch.onnx.export`` (mmdeploy's extension point; active only inside
mmdeploy's ``RewriterContext``), registered when this package is imported
- e.g. through ``codebase_config=dict(..., module=['rgpnet_mmseg.deploy'])``
in a deploy config.
"""
import functools
import importlib
import inspect
import logging
import os
import warnings
from typing import Any, Dict, Optional, Sequence, Tuple

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_export_input
from .onnx_graph import fold_batchnorm

logger = logging.getLogger('rgpnet_mmseg.deploy')

EXPORTER_ENV = 'RGPNET_ONNX_EXPORTER'
EXPORTER_CHOICES = ('auto', 'legacy', 'dynamo')
# the dynamo exporter has implementations for opset 18 and newer only
DYNAMO_MIN_OPSET = 18
# arguments that only the TorchScript exporter understands
_LEGACY_ONLY_ARGS = ('training', 'operator_export_type', 'do_constant_folding',
                     'custom_opsets', 'export_modules_as_functions',
                     'autograd_inlining')


# what the last :func:`export_onnx` did (read by tools/deploy.py, since
# mmdeploy's torch2onnx returns nothing)
LAST_EXPORT: Dict[str, Any] = {}
# the exporter of the export in progress (read by compat's rewriters)
_CURRENT: Dict[str, Optional[str]] = {'exporter': None}


class ExporterError(RuntimeError):
    """The requested ONNX exporter is not available."""


@functools.lru_cache(maxsize=None)
def _export_parameters() -> Tuple[str, ...]:
    return tuple(inspect.signature(torch.onnx.export).parameters)


@functools.lru_cache(maxsize=None)
def legacy_exporter_available() -> bool:
    """Whether torch still has the TorchScript-based ONNX exporter."""
    if 'dynamo' not in _export_parameters():
        return True  # torch < 2.5: it is the only exporter
    for name in ('torch.onnx._internal.torchscript_exporter.utils',
                 'torch.onnx.utils'):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, '_export') and hasattr(module, '_model_to_graph'):
            return True
    return False


@functools.lru_cache(maxsize=None)
def dynamo_exporter_available() -> bool:
    """Whether torch has the dynamo exporter and ``onnxscript`` is
    installed."""
    if 'dynamo' not in _export_parameters():
        return False
    return importlib.util.find_spec('onnxscript') is not None


# probe once, before any mmdeploy RewriterContext replaces torch.onnx.export
legacy_exporter_available()
dynamo_exporter_available()


def choose_exporter(requested: Optional[str] = None,
                    *,
                    legacy_available: Optional[bool] = None,
                    dynamo_available: Optional[bool] = None) -> str:
    """Decide which exporter to use.

    Args:
        requested (str, optional): ``'auto'``, ``'legacy'`` or ``'dynamo'``.
            Default: the ``RGPNET_ONNX_EXPORTER`` environment variable, else
            ``'auto'``.
        legacy_available (bool, optional): Override the probe (for tests).
        dynamo_available (bool, optional): Override the probe (for tests).

    Returns:
        str: ``'legacy'`` or ``'dynamo'``. ``'auto'`` gives the legacy
        exporter while torch has it, the dynamo exporter otherwise.

    Raises:
        ExporterError: An unknown name, or the requested exporter is not
            available.
    """
    if requested is None:
        requested = os.environ.get(EXPORTER_ENV) or 'auto'
    requested = requested.strip().lower()
    if requested not in EXPORTER_CHOICES:
        raise ExporterError(
            f'Unknown ONNX exporter {requested!r} (from the argument or '
            f'${EXPORTER_ENV}); choose one of {", ".join(EXPORTER_CHOICES)}')
    if legacy_available is None:
        legacy_available = legacy_exporter_available()
    if dynamo_available is None:
        dynamo_available = dynamo_exporter_available()
    if requested == 'auto':
        if legacy_available:
            return 'legacy'
        if dynamo_available:
            return 'dynamo'
        raise ExporterError(
            f'torch {torch.__version__} has no usable ONNX exporter: the '
            'TorchScript exporter is gone and the dynamo exporter needs '
            '`pip install onnxscript`')
    if requested == 'legacy' and not legacy_available:
        raise ExporterError(
            f'The TorchScript-based ONNX exporter is not in torch '
            f'{torch.__version__}; use {EXPORTER_ENV}=dynamo (or auto)')
    if requested == 'dynamo' and not dynamo_available:
        found = importlib.util.find_spec('onnxscript') is not None
        raise ExporterError(
            f'The dynamo ONNX exporter needs torch >= 2.5 and onnxscript '
            f'(torch {torch.__version__}, onnxscript '
            f'{"found" if found else "missing"})')
    return requested


class _SingleInput(nn.Module):
    """Gives a ``forward(*args)`` model (mmdeploy wraps the model's forward
    that way) one named input, so that torch.export matches the dynamic
    axes to it."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input: torch.Tensor):  # noqa: A002 - ONNX input name
        return self.model(input)


def _for_torch_export(model: nn.Module, args: tuple) -> nn.Module:
    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return model
    if len(args) == 1 and any(p.kind == p.VAR_POSITIONAL for p in params):
        return _SingleInput(model)
    return model


def _is_path(f: Any) -> bool:
    return isinstance(f, (str, os.PathLike))


def _postprocess(path: str,
                 exporter: str,
                 target_opset: Optional[int],
                 fold_bn: bool = True) -> Dict[str, Any]:
    """Fold BN, bring a dynamo graph to one file and to the requested
    opset if the ONNX version converter can; returns what it did."""
    model = onnx.load(path)  # also reads external data next to it
    info = dict(exporter=exporter, folded_bn=0)
    if fold_bn:
        info['folded_bn'] = fold_batchnorm(model)
    opset = next((o.version for o in model.opset_import if o.domain in
                  ('', 'ai.onnx')), None)
    if exporter == 'dynamo' and target_opset and opset and \
            target_opset < opset:
        from onnx import version_converter
        for version in sorted({target_opset, 17}):
            if version >= opset:
                continue
            try:
                model = version_converter.convert_version(model, version)
                opset = version
                break
            except Exception:  # noqa: BLE001 - the converter lacks adapters
                continue
        else:
            logger.warning(
                'The ONNX version converter cannot bring the dynamo graph '
                f'down to opset {target_opset}; it stays at opset {opset}')
    if exporter == 'dynamo' and not model.functions and opset:
        # the dynamo exporter writes IR version 10 whatever the opset; the
        # lowest IR version of the opset lets older parsers (TensorRT 8.6:
        # ONNX 1.13, IR <= 8) read the file
        from onnx import helper
        try:
            min_ir = helper.find_min_ir_version_for(
                [o for o in model.opset_import if o.domain in ('', 'ai.onnx')])
            model.ir_version = min(model.ir_version, max(min_ir, 7))
        except Exception:  # noqa: BLE001 - an opset onnx does not know
            pass
    info['opset'] = opset
    info['ir_version'] = model.ir_version
    data_file = path + '.data'
    if model.ByteSize() < 2**31 - 2**24:
        onnx.save(model, path)  # one file, as mmdeploy's SDK expects
        if os.path.isfile(data_file):
            os.remove(data_file)
    else:  # protobuf's 2 GB limit
        onnx.save(
            model,
            path,
            save_as_external_data=True,
            location=os.path.basename(data_file))
    return info


def export_onnx(model: nn.Module,
                args: Any,
                f: Any,
                *,
                exporter: Optional[str] = None,
                export_fn=None,
                fold_bn: bool = True,
                **kwargs) -> Dict[str, Any]:
    """Export ``model`` to ONNX with the chosen exporter.

    Takes the arguments of :func:`torch.onnx.export` (as mmdeploy passes
    them) and maps them onto the chosen exporter: ``dynamo=False`` for the
    TorchScript exporter; for the dynamo exporter ``dynamo=True``, opset at
    least 18, weights inside the file, and no TorchScript-only arguments.
    The written file then has its BatchNormalization nodes folded into the
    convolutions (see :func:`~rgpnet_mmseg.deploy.onnx_graph.fold_batchnorm`)
    and, for the dynamo exporter, is converted down to the requested opset
    where the ONNX version converter can.

    Args:
        model (nn.Module): The model (in eval mode).
        args: Example inputs (a tensor or a tuple).
        f: Output path (or a file-like object: then no post-processing).
        exporter (str, optional): See :func:`choose_exporter`.
        export_fn (callable, optional): The ``torch.onnx.export`` to call
            (mmdeploy's rewriter passes the original function).
        fold_bn (bool): Fold BN into the convolutions. Default: True.
        **kwargs: Arguments of :func:`torch.onnx.export`.

    Returns:
        dict: ``exporter``, ``opset``, ``folded_bn``.
    """
    mode = choose_exporter(exporter)
    export_fn = export_fn or torch.onnx.export
    params = _export_parameters()
    requested_opset = kwargs.get('opset_version')
    if mode == 'legacy':
        if 'dynamo' in params:
            kwargs['dynamo'] = False
    else:
        kwargs['dynamo'] = True
        dropped = {k: kwargs.pop(k) for k in _LEGACY_ONLY_ARGS if k in kwargs}
        if dropped:
            logger.info('dynamo exporter: ignoring TorchScript-only '
                        f'arguments {sorted(dropped)}')
        kwargs['opset_version'] = max(requested_opset or DYNAMO_MIN_OPSET,
                                      DYNAMO_MIN_OPSET)
        kwargs.setdefault('external_data', False)
        kwargs.setdefault('report', False)
        if isinstance(args, torch.Tensor):
            args = (args, )
        model = _for_torch_export(model, tuple(args))
    logger.info(f'ONNX export with the {mode} exporter '
                f'(torch {torch.__version__})')
    _CURRENT['exporter'] = mode
    try:
        with warnings.catch_warnings():
            # our choice is deliberate: do not repeat torch's deprecation
            # note
            warnings.filterwarnings(
                'ignore', message='You are using the legacy TorchScript-based')
            # mmdeploy gives dynamic_axes; torch turns them into
            # dynamic_shapes itself (checked: dynamic H, W export and run)
            warnings.filterwarnings(
                'ignore', message=".*'dynamic_axes' is not recommended")
            export_fn(model, args, f, **kwargs)
    finally:
        _CURRENT['exporter'] = None
    if not _is_path(f):
        info = dict(exporter=mode, opset=kwargs.get('opset_version'),
                    folded_bn=0)
    else:
        info = _postprocess(os.fspath(f), mode, requested_opset, fold_bn)
        info['file'] = os.fspath(f)
    LAST_EXPORT.clear()
    LAST_EXPORT.update(info)
    if not _is_path(f):
        return info
    logger.info(f'exported {os.fspath(f)}: {mode} exporter, opset '
                f'{info["opset"]}, {info["folded_bn"]} BatchNormalization '
                'folded into convolutions')
    return info


def _contains_rgpnet(model: nn.Module) -> bool:
    from rgpnet_mmseg.models.decode_heads.rgp_head import RGPHead
    return any(isinstance(m, RGPHead) for m in model.modules())


def _register_mmdeploy_rewriter() -> None:
    """Route mmdeploy's ``torch.onnx.export`` call through
    :func:`export_onnx` (inside mmdeploy's RewriterContext only)."""
    from mmdeploy.core import FUNCTION_REWRITER

    @FUNCTION_REWRITER.register_rewriter(func_name='torch.onnx.export')
    def torch_onnx_export__rgpnet(model, args=(), f=None, **kwargs):
        """mmdeploy's export call, with the exporter chosen by
        :func:`choose_exporter` and the graph post-processed."""
        ctx = FUNCTION_REWRITER.get_context()
        if _contains_rgpnet(model):
            check_export_input(args, kwargs.get('dynamic_axes'),
                               kwargs.get('input_names'))
        return export_onnx(
            model, args, f, export_fn=ctx.origin_func, **kwargs)


class SegmentorForExport(nn.Module):
    """An mmseg ``EncoderDecoder`` as mmdeploy exports it: normalised image
    in, logits resized to the input size (``decode_head.predict``) out,
    optionally followed by ``argmax`` over the classes.

    Used where no mmdeploy pipeline is wanted (the benchmark, the dynamo
    exporter test); :func:`mmdeploy.apis.torch2onnx` builds the same graph
    through its rewriters.

    Args:
        segmentor (nn.Module): An mmseg ``EncoderDecoder`` in eval mode.
        with_argmax (bool): Output the label map (N, 1, H, W) int64 instead
            of the logits (N, C, H, W). Default: True.
    """

    def __init__(self, segmentor: nn.Module, with_argmax: bool = True):
        super().__init__()
        self.segmentor = segmentor
        self.with_argmax = with_argmax

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Forward function."""
        segmentor = self.segmentor
        logits = segmentor.decode_head.forward(segmentor.extract_feat(inputs))
        logits = F.interpolate(
            logits,
            size=inputs.shape[2:],
            mode='bilinear',
            align_corners=segmentor.decode_head.align_corners)
        if self.with_argmax:
            return logits.argmax(dim=1, keepdim=True)
        return logits


def export_segmentor(segmentor: nn.Module,
                     path: str,
                     input_shape: Sequence[int],
                     *,
                     with_argmax: bool = True,
                     dynamic: bool = False,
                     exporter: Optional[str] = None,
                     opset_version: int = 11) -> Dict[str, Any]:
    """Export an mmseg segmentor to ONNX without mmdeploy.

    Args:
        segmentor (nn.Module): The segmentor (put into eval mode).
        path (str): Output ``.onnx`` file.
        input_shape (Sequence[int]): ``(H, W)`` of the example input.
        with_argmax (bool): Output labels instead of logits.
        dynamic (bool): Dynamic batch, height and width.
        exporter (str, optional): See :func:`choose_exporter`.
        opset_version (int): Requested opset. Default: 11.

    Returns:
        dict: See :func:`export_onnx`.
    """
    segmentor.eval()
    wrapper = SegmentorForExport(segmentor, with_argmax).eval()
    dynamic_axes = None
    if dynamic:
        axes = {0: 'batch', 2: 'height', 3: 'width'}
        dynamic_axes = {'input': axes, 'output': axes}
    if _contains_rgpnet(segmentor):
        check_export_input(
            torch.zeros(1, 3, *input_shape), dynamic_axes, ['input'])
    device = next(segmentor.parameters()).device
    example = torch.randn(1, 3, *input_shape, device=device)
    with torch.no_grad():
        return export_onnx(
            wrapper, (example, ),
            path,
            exporter=exporter,
            input_names=['input'],
            output_names=['output'],
            opset_version=opset_version,
            dynamic_axes=dynamic_axes)
