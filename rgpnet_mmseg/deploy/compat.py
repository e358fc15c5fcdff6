# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""What mmdeploy 1.3.1 needs on torch 2.13, numpy 2, protobuf 7, onnx 1.23.

Applied once by ``import rgpnet_mmseg.deploy``, through mmdeploy's own
extension points where it has them, never by editing site-packages. Found
by converting RGPNet with mmdeploy's ``torch2onnx`` on this stack:

* **torch.fx registry became a dict.** mmdeploy's ``FunctionRewriter``
  treats ``torch.fx._symbolic_trace._wrapped_fns_to_patch`` as a list of
  ``(globals, name)`` pairs: on leaving a ``RewriterContext`` it
  ``pop(-1)``'s the entries added inside it. Since torch 2.x it is a dict
  keyed by ``(id(globals), name)``; when an export registers an
  ``fx.wrap`` (torch.export does: ``dict_keys_getitem``), leaving the
  context raises ``KeyError: -1`` after a successful export. Its
  ``_fx_wrap_copied_fn`` never matches a dict key either, so the copies of
  fx-wrapped rewriters were not wrapped. Both are replaced by versions that
  handle the dict (and keep the list behaviour for old torch).
* **torch.onnx's symbolic modules moved.** torch 2.9+ keeps the TorchScript
  exporter in ``torch.onnx._internal.torchscript_exporter`` and leaves
  ``torch.onnx.symbolic_opset11`` as a re-export of its public names only.
  mmdeploy's TensorRT rewriter of ``symbolic_opset11._prepare_onnx_paddings``
  (dynamic ``F.pad`` for TensorRT) is then skipped with "Can not find ...".
  The private name is re-exposed on the public module, so the rewriter
  applies again (mmdeploy patches every reference, the internal one too).
* **mmdeploy's rewriters under torch.export.** Its ``copy.deepcopy``
  rewriter calls ``get_context()`` (``inspect.stack()``) on every call and
  torch.export deep-copies node metadata thousands of times (350 s instead
  of 15 s for RGPNet); its ``mark`` nodes read shapes as Python ints, so
  torch.export specialises dynamic axes. Both are replaced by rewriters of
  ours (mmdeploy's rewriter registry) that act only under the dynamo
  exporter (``copy.deepcopy``: mmdeploy's behaviour without the stack walk).
* **The exporter.** mmdeploy calls ``torch.onnx.export`` without
  ``dynamo=``; torch 2.13 defaults to the dynamo exporter. Handled in
  :mod:`rgpnet_mmseg.deploy.exporter` (a rewriter of ``torch.onnx.export``),
  which also gives mmdeploy's ``forward(*args)`` wrapper one named input
  (torch.export cannot match ``dynamic_axes`` to ``*args``) and follows the
  ``Identity`` nodes the TorchScript exporter leaves for deduplicated
  initializers when folding BN.
* **mmdeploy's SDK export mutates its input.** ``export2SDK`` (mmseg's
  ``get_postprocess``) writes ``with_argmax`` into the decode head config
  it is given; building the model from that config afterwards fails. The
  pipeline passes copies.
* **TensorRT 10/11.** mmdeploy's ``TRTWrapper`` uses the binding API that
  TensorRT 10 removed, its builder ``EXPLICIT_BATCH``/``BuilderFlag.FP16``.
  Handled in :mod:`rgpnet_mmseg.deploy.tensorrt` (re-registered backend
  manager).

Nothing else broke on our path: numpy 2 (no removed aliases on the
mmseg/onnxruntime path), protobuf 7 with onnx 1.23 (mmdeploy does not use
protobuf itself; its ``protobuf<=3.20.2`` pin is not needed at run time).
"""
import importlib

_applied = False


def _fx_registry():
    try:
        from torch.fx import _symbolic_trace
    except ImportError:  # pragma: no cover - torch < 1.10
        return None
    return getattr(_symbolic_trace, '_wrapped_fns_to_patch', None)


def _patch_function_rewriter() -> None:
    """Make mmdeploy's FunctionRewriter work with the dict registry of
    ``torch.fx.wrap`` (torch >= 2.0)."""
    registry = _fx_registry()
    if not isinstance(registry, dict):
        return
    from mmdeploy.core.rewriters import function_rewriter as fr

    def _fx_wrap_copied_fn(func, copied_func):
        """If ``func``'s globals hold an fx-wrapped name, wrap the same name
        in the globals of ``copied_func``."""
        if not hasattr(func, '__globals__'):
            return
        for (_, name), frame_globals in list(registry.items()):
            if frame_globals is func.__globals__:
                registry[(id(copied_func.__globals__),
                          name)] = copied_func.__globals__

    enter, exit_ = fr.FunctionRewriter.enter, fr.FunctionRewriter.exit

    def patched_enter(self, *args, **kwargs):
        self._rgpnet_fx_keys = set(registry)
        return enter(self, *args, **kwargs)

    def patched_exit(self):
        for key in set(registry) - getattr(self, '_rgpnet_fx_keys', set()):
            del registry[key]
        # nothing left for mmdeploy's own list-style clean-up to pop
        self._ori_fx_wrap_num = len(registry)
        return exit_(self)

    fr._fx_wrap_copied_fn = _fx_wrap_copied_fn
    fr.FunctionRewriter.enter = patched_enter
    fr.FunctionRewriter.exit = patched_exit


def _expose_torchscript_symbolics() -> None:
    """Re-expose the private helpers that mmdeploy rewrites on torch.onnx's
    public symbolic modules (torch >= 2.9 moved them)."""
    try:
        internal = importlib.import_module(
            'torch.onnx._internal.torchscript_exporter.symbolic_opset11')
        public = importlib.import_module('torch.onnx.symbolic_opset11')
    except ImportError:
        return
    for name in ('_prepare_onnx_paddings', ):
        if not hasattr(public, name) and hasattr(internal, name):
            setattr(public, name, getattr(internal, name))


def _register_dynamo_rewriters() -> None:
    """Two mmdeploy rewriters that break torch.export (the dynamo
    exporter), replaced through mmdeploy's own rewriter registry."""
    import copy

    import torch
    from mmdeploy.core import FUNCTION_REWRITER
    from mmdeploy.utils import IR

    from .exporter import _CURRENT

    origin_deepcopy = copy.deepcopy  # a closure cell: mmdeploy's patching
    # replaces references in dicts and lists, not in cells

    @FUNCTION_REWRITER.register_rewriter(func_name='copy.deepcopy', ir=IR.ONNX)
    def copy__deepcopy__rgpnet(x, *args, **kwargs):
        """mmdeploy's ``copy.deepcopy`` rewriter (a tensor is cloned, for
        the TorchScript tracer) without its ``get_context()`` call, which
        walks ``inspect.stack()``: torch.export deep-copies node metadata
        thousands of times, and the dynamo export of RGPNet through
        mmdeploy took 350 s instead of 15 s. Being IR-specific, it takes
        precedence over mmdeploy's default rewriter."""
        if _CURRENT['exporter'] != 'dynamo' and isinstance(
                x, torch.Tensor) and not args and not kwargs:
            return x.clone()
        return origin_deepcopy(x, *args, **kwargs)

    @FUNCTION_REWRITER.register_rewriter(
        func_name='mmdeploy.core.optimizers.function_marker.mark_tensors')
    def mark_tensors__rgpnet(xs, *args, **kwargs):
        """No ``mark`` nodes under the dynamo exporter: they read tensor
        shapes as Python ints (``int(s) for s in ys.shape``), so torch.export
        specialises the dynamic axes ("tracing inferred a static shape of
        128 for dimension inputs['input'].shape[2]"). They only serve
        mmdeploy's model partitioning, and mmdeploy drops them for its
        TorchScript IR as well."""
        ctx = FUNCTION_REWRITER.get_context()
        if _CURRENT['exporter'] == 'dynamo':
            return xs
        return ctx.origin_func(xs, *args, **kwargs)


def apply() -> None:
    """Apply the fixes (idempotent)."""
    global _applied
    if _applied:
        return
    _patch_function_rewriter()
    _expose_torchscript_symbolics()
    _register_dynamo_rewriters()
    _applied = True
