# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Folding eval-mode BatchNorm into the preceding conv; unlike
``mmcv.cnn.fuse_conv_bn`` also ``nn.ConvTranspose2d`` and modules with a
``fuse()`` method (``SharedResBlock``: one weight, two BNs)."""
import copy

import torch
import torch.nn as nn

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)
_BNS = (nn.modules.batchnorm._BatchNorm, )


@torch.no_grad()
def fold_bn_into_conv(conv: nn.Module, bn: nn.Module) -> nn.Module:
    """A copy of ``conv`` with the eval-mode ``bn`` after it folded in.

    Args:
        conv (nn.Conv2d | nn.ConvTranspose2d): The convolution (unchanged).
        bn (nn.BatchNorm2d): The BN that follows it, with running stats.

    Returns:
        nn.Module: Weight ``w * gamma / sigma``, bias ``(b - mean) * gamma /
        sigma + beta`` per output channel.
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f'{type(bn).__name__} without running statistics '
                         'cannot be folded')
    scale = bn.running_var.add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    fused = copy.deepcopy(conv)
    weight = conv.weight.detach()
    if isinstance(conv, nn.ConvTranspose2d):
        # weight (in, out / groups, kh, kw), grouped by output channel
        g, out_g = conv.groups, weight.shape[1]
        w = weight.reshape(g, -1, out_g, *weight.shape[2:])
        weight = (w * scale.reshape(g, 1, out_g, 1, 1)).reshape(weight.shape)
    elif isinstance(conv, nn.Conv2d):
        weight = weight * scale.reshape(-1, 1, 1, 1)
    else:
        raise TypeError(f'cannot fold BN into {type(conv).__name__}')
    bias = conv.bias.detach() if conv.bias is not None else 0
    fused.weight = nn.Parameter(weight, requires_grad=False)
    fused.bias = nn.Parameter(bias * scale + shift, requires_grad=False)
    return fused


def fuse_conv_bn(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Fold every eval-mode BN into the convolution just before it.

    A BN registered right after a conv becomes ``nn.Identity`` (as
    :func:`mmcv.cnn.fuse_conv_bn`); modules with ``fuse()`` fuse themselves.

    Args:
        model (nn.Module): Any model (an mmseg segmentor, a head...).
        inplace (bool): Change ``model`` instead of a deep copy.

    Returns:
        nn.Module: The fused model, in eval mode.
    """
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    _fuse_children(model)
    return model


def _fuse_children(module: nn.Module) -> None:
    # ConvModule registers conv, norm in any ``order``: pair only conv->norm
    order = tuple(getattr(module, 'order', ('conv', 'norm')))
    pairs = ('conv', 'norm') in zip(order, order[1:])
    last_conv = None
    for name, child in list(module.named_children()):
        if callable(getattr(child, 'fuse', None)):
            child.fuse()
            last_conv = None
        elif isinstance(child, _BNS) and last_conv is not None and pairs:
            module._modules[last_conv] = fold_bn_into_conv(
                module._modules[last_conv], child)
            module._modules[name] = nn.Identity()
            last_conv = None
        elif isinstance(child, _CONVS):
            last_conv = name
        else:  # anything between a conv and a BN breaks the pair
            last_conv = None
            _fuse_children(child)
