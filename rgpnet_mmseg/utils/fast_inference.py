# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Faster eval-mode inference of mmseg segmentors (RGPNet and others).

Not imported by :mod:`rgpnet_mmseg.utils`; import it by its full path::

    from rgpnet_mmseg.utils.fast_inference import (
        fuse_conv_bn, optimize_for_inference, check_parity)

    fast = optimize_for_inference(model)            # a fused deep copy
    with torch.inference_mode():
        logits = fast(images, mode='tensor')        # same as model(...)

What it does, each step keeping the outputs of the eval-mode model (to
float32 rounding; :func:`check_parity` measures it):

* :func:`fuse_conv_bn` folds every eval-mode BatchNorm into the convolution
  before it: ``nn.Conv2d`` as :func:`mmcv.cnn.fuse_conv_bn` does, and also
  ``nn.ConvTranspose2d`` (RGPNet's upsampling ``U``) and RGPNet's
  :class:`SharedResBlock`, whose one convolution feeds two BatchNorms:
  it becomes two convolutions, each with one BN folded in.
  ``mmcv.cnn.fuse_conv_bn`` alone folds the *first* BN into the shared
  weight and then reuses that weight for the second application, which
  changes the output (checked in ``tests/test_benchmark_zoo.py``).
* :func:`to_channels_last` stores weights and takes inputs in
  ``torch.channels_last`` (NHWC), the layout oneDNN's CPU convolutions,
  pooling and element-wise kernels work in, so that no NCHW <-> blocked
  reorder runs around every convolution.
* :func:`compile_for_inference`: ``torch.compile`` (inductor) of the above
  with ``freezing``: weights become constants, pre-packed for oneDNN, and
  BN/ReLU/add are fused into the convolutions; needs a C++ compiler, works
  offline.
* :func:`onnxruntime_for_inference`: the model exported to ONNX by the
  deploy helper's exporter (:func:`rgpnet_mmseg.deploy.exporter.export_onnx`,
  BN folded) and run by ONNX Runtime's CPU execution provider.

The last two return a callable ``images -> logits`` (the ``mode='tensor'``
output) for a fixed input shape.
"""
import copy
from typing import Any, Callable, Dict, Optional

import torch
import torch.nn as nn
from torch import Tensor

__all__ = [
    'fold_bn_into_conv', 'fuse_conv_bn', 'to_channels_last',
    'ChannelsLastWrapper', 'TensorMode', 'optimize_for_inference',
    'compile_for_inference', 'onnxruntime_for_inference', 'check_parity'
]


def _bn_scale_shift(bn: nn.modules.batchnorm._BatchNorm):
    """Per-channel ``scale, shift`` of an eval-mode BN: ``y = x*scale +
    shift``."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f'{type(bn).__name__} without running statistics '
                         'cannot be folded')
    std = torch.sqrt(bn.running_var + bn.eps)
    weight = bn.weight if bn.weight is not None else torch.ones_like(std)
    bias = bn.bias if bn.bias is not None else torch.zeros_like(std)
    scale = weight / std
    shift = bias - bn.running_mean * scale
    return scale, shift


@torch.no_grad()
def fold_bn_into_conv(conv: nn.Module,
                      bn: nn.modules.batchnorm._BatchNorm) -> nn.Module:
    """Return a copy of ``conv`` (``nn.Conv2d`` or ``nn.ConvTranspose2d``)
    with the eval-mode ``bn`` that follows it folded in (it gets a bias).
    ``conv`` itself is left unchanged."""
    scale, shift = _bn_scale_shift(bn)
    fused = copy.deepcopy(conv)
    weight = conv.weight.detach()
    if isinstance(conv, nn.ConvTranspose2d):
        # weight: (in, out / groups, kh, kw); output channel o of group g
        # is weight[g * in_g:(g + 1) * in_g, o - g * out_g]
        groups = conv.groups
        in_c, out_g = weight.shape[:2]
        w = weight.reshape(groups, in_c // groups, out_g, *weight.shape[2:])
        w = w * scale.reshape(groups, 1, out_g, 1, 1)
        new_weight = w.reshape(weight.shape)
    elif isinstance(conv, nn.Conv2d):
        new_weight = weight * scale.reshape(-1, 1, 1, 1)
    else:
        raise TypeError(f'cannot fold BN into {type(conv).__name__}')
    old_bias = conv.bias.detach() if conv.bias is not None else 0
    fused.weight = nn.Parameter(new_weight, requires_grad=False)
    fused.bias = nn.Parameter(old_bias * scale + shift, requires_grad=False)
    return fused


class _FusedSharedResBlock(nn.Module):
    """:class:`SharedResBlock` with its BNs folded: the shared weight
    becomes two convolutions, one per BN (the same FLOPs)."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.conv1 = fold_bn_into_conv(block.conv, block.bn1)
        self.conv2 = fold_bn_into_conv(block.conv, block.bn2)
        self.act1 = block.act1
        self.act2 = block.act2

    def forward(self, x: Tensor) -> Tensor:
        out = self.act1(self.conv1(x))
        return self.act2(self.conv2(out) + x)


_CONV_TYPES = (nn.Conv2d, nn.ConvTranspose2d)
_BN_TYPES = (nn.modules.batchnorm._BatchNorm, )


def _is_shared_res_block(module: nn.Module) -> bool:
    from rgpnet_mmseg.models.decode_heads.rgp_head import SharedResBlock
    return isinstance(module, SharedResBlock)


def fuse_conv_bn(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Fold every eval-mode BatchNorm into the convolution before it.

    A BN is folded when it is the next child, in registration order, of the
    same parent as a ``nn.Conv2d``/``nn.ConvTranspose2d`` (as in mmcv's
    ``ConvModule``, mmseg's ResNet blocks, ``nn.Sequential``): that is how
    :func:`mmcv.cnn.fuse_conv_bn` finds them. The BN is replaced by
    ``nn.Identity``. RGPNet's :class:`SharedResBlock` (one convolution, two
    BNs) is replaced by a block of two fused convolutions.

    Only valid in eval mode (the BN's running statistics are used); the
    result is put into eval mode. Check the result with
    :func:`check_parity` for models whose forward uses a convolution twice
    or uses a BN that is not directly after its convolution.

    Args:
        model (nn.Module): The model.
        inplace (bool): Change ``model`` itself instead of a deep copy.

    Returns:
        nn.Module: The fused model (in eval mode).
    """
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    _fuse_children(model)
    return model


def _fuse_children(module: nn.Module) -> None:
    last_conv_name: Optional[str] = None
    for name, child in list(module.named_children()):
        if _is_shared_res_block(child):
            module._modules[name] = _FusedSharedResBlock(child).eval()
            last_conv_name = None
        elif isinstance(child, _BN_TYPES):
            if last_conv_name is not None:
                conv = module._modules[last_conv_name]
                module._modules[last_conv_name] = fold_bn_into_conv(
                    conv, child)
                module._modules[name] = nn.Identity()
            last_conv_name = None
        elif isinstance(child, _CONV_TYPES):
            last_conv_name = name
        else:
            # a container between a conv and a BN breaks the pair
            last_conv_name = None
            _fuse_children(child)


def to_channels_last(model: nn.Module) -> nn.Module:
    """Store the 4-d parameters and buffers of ``model`` in
    ``torch.channels_last`` (in place) and return it."""
    return model.to(memory_format=torch.channels_last)


class ChannelsLastWrapper(nn.Module):
    """Calls ``model`` with 4-d tensor inputs converted to
    ``torch.channels_last`` (the conversion is part of the timed call)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Any, *args, **kwargs) -> Any:
        if isinstance(inputs, Tensor) and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return self.model(inputs, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules['model'], name)


class TensorMode(nn.Module):
    """``segmentor(x, mode='tensor')`` as a one-input module (for
    ``torch.compile`` and ONNX export)."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, x: Tensor) -> Tensor:
        return self.segmentor(x, mode='tensor')


def optimize_for_inference(model: nn.Module,
                           fuse: bool = True,
                           channels_last: bool = True) -> nn.Module:
    """An eval-mode copy of ``model`` with BN folded (``fuse``) and
    weights/inputs in channels-last memory format (``channels_last``).

    Call it as the model: ``fast(inputs, mode='tensor')`` for an mmseg
    segmentor; run it under ``torch.inference_mode()``.
    """
    fast = copy.deepcopy(model).eval()
    if fuse:
        fast = fuse_conv_bn(fast, inplace=True)
    if channels_last:
        fast = ChannelsLastWrapper(to_channels_last(fast)).eval()
    for p in fast.parameters():
        p.requires_grad_(False)
    return fast


def compile_for_inference(model: nn.Module,
                          example: Tensor,
                          fuse: bool = True,
                          channels_last: bool = True
                          ) -> Callable[[Tensor], Tensor]:
    """``torch.compile`` (inductor, ``freezing=True``) of
    :func:`optimize_for_inference` ``(model)`` in tensor mode, compiled for
    the shape of ``example`` (the first call, run here; a new shape
    compiles again). Compile under the thread count you will run with.

    Returns:
        callable: ``images -> logits``; call it under
        ``torch.inference_mode()``.
    """
    import torch._inductor.config as inductor_config
    fast = TensorMode(
        optimize_for_inference(model, fuse=fuse,
                               channels_last=channels_last)).eval()
    compiled = torch.compile(fast)
    # freezing is read when the first call compiles
    with inductor_config.patch(freezing=True), torch.inference_mode():
        compiled(example)
    return compiled


def onnxruntime_for_inference(model: nn.Module,
                              example: Tensor,
                              onnx_file: str,
                              threads: Optional[int] = None,
                              opset_version: int = 17
                              ) -> Callable[[Tensor], Tensor]:
    """Export ``model`` in tensor mode for the shape of ``example`` to
    ``onnx_file`` and open it in ONNX Runtime (CPU execution provider, all
    graph optimisations, ``threads`` intra-op threads).

    The export goes through the deploy helper's
    :func:`rgpnet_mmseg.deploy.exporter.export_onnx` (exporter choice, BN
    folded), or plain ``torch.onnx.export`` when the deploy extra
    (mmdeploy) is missing.

    Returns:
        callable: ``images -> logits`` (a torch tensor), with attributes
        ``session``, ``input_name`` and ``exporter``; ``fn.run_numpy(a)``
        runs the session on a float32 array (no conversions, for timing).
    """
    import inspect
    import warnings

    import numpy as np
    import onnxruntime as ort
    module = TensorMode(model).eval()
    kwargs = dict(
        opset_version=opset_version,
        input_names=['input'],
        output_names=['output'])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer warnings of shape checks
        try:
            from rgpnet_mmseg.deploy.exporter import export_onnx
        except ImportError:
            export_onnx = None
        if export_onnx is not None:
            info = export_onnx(module, (example, ), onnx_file, **kwargs)
            exporter = f'{info.get("exporter")} exporter, BN folded'
        else:
            if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
                kwargs['dynamo'] = False
            torch.onnx.export(module, (example, ), onnx_file, **kwargs)
            exporter = 'torch.onnx.export'
    options = ort.SessionOptions()
    options.graph_optimization_level = \
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = int(threads)
    session = ort.InferenceSession(
        onnx_file, options, providers=['CPUExecutionProvider'])
    input_name = session.get_inputs()[0].name

    def run_numpy(array: np.ndarray):
        return session.run(None, {input_name: array})[0]

    def fn(images: Tensor) -> Tensor:
        array = images.detach().cpu().numpy().astype(np.float32, copy=False)
        return torch.from_numpy(run_numpy(array))

    fn.session = session
    fn.input_name = input_name
    fn.exporter = exporter
    fn.run_numpy = run_numpy
    return fn


@torch.inference_mode()
def check_parity(reference: Callable[[Tensor], Tensor],
                 candidate: Callable[[Tensor], Tensor],
                 inputs: Tensor,
                 rtol: float = 1e-3,
                 atol: float = 1e-3) -> Dict[str, float]:
    """Compare ``candidate(inputs)`` with ``reference(inputs)``.

    Returns:
        dict: ``max_abs`` (largest absolute difference), ``max_ref``
        (largest absolute reference value), ``argmax_agree`` (fraction of
        positions whose argmax over dim 1 agrees, for logits) and ``ok``
        (``torch.allclose`` with ``rtol``/``atol`` relative to the
        reference's scale: ``atol * max(1, max_ref)``).
    """
    ref = reference(inputs)
    out = candidate(inputs)
    ref = torch.as_tensor(ref).float().contiguous()
    out = torch.as_tensor(out).float().contiguous()
    if ref.shape != out.shape:
        raise AssertionError(
            f'parity: shapes differ, {tuple(ref.shape)} vs '
            f'{tuple(out.shape)}')
    max_abs = (ref - out).abs().max().item() if ref.numel() else 0.0
    max_ref = ref.abs().max().item() if ref.numel() else 0.0
    agree = 1.0
    if ref.dim() == 4 and ref.shape[1] > 1:
        agree = (ref.argmax(1) == out.argmax(1)).float().mean().item()
    ok = torch.allclose(
        out, ref, rtol=rtol, atol=atol * max(1.0, max_ref))
    return dict(
        max_abs=max_abs, max_ref=max_ref, argmax_agree=agree, ok=bool(ok))
