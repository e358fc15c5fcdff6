# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""RGPNet decode head: adaptor + shared-weight residual decoder.

Paper: *RGPNet: A Real-Time General Purpose Semantic Segmentation*
(Arani et al., WACV 2021), sec. 3.1, eq. 1-3, fig. 2-3.
"""
from typing import List, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from ..utils import fold_bn_into_conv

NUM_LEVELS = 4


def match_size(x: Tensor, ref: Tensor) -> Tensor:
    """Crop or zero-pad ``x`` at its bottom/right to the size of ``ref``
    (odd sizes halved by the backbone), top-left aligned.

    Args:
        x (Tensor): Feature map, shape (N, C, H, W).
        ref (Tensor): Feature map whose (H', W') ``x`` must take.

    Returns:
        Tensor: Shape (N, C, H', W').
    """
    h, w = ref.shape[-2:]
    x = x[..., :h, :w]
    pad_h, pad_w = h - x.shape[-2], w - x.shape[-1]
    if pad_h > 0 or pad_w > 0:
        x = F.pad(x, (0, pad_w, 0, pad_h))
    return x


class UpConvModule(nn.Sequential):
    """The upsampling function U: 3x3 stride-2 transposed conv, norm, act.

    Args:
        in_channels (int): Input channels (decoder level s+1).
        out_channels (int): Output channels (adaptor level s).
        norm_cfg (dict): Config of the norm layer.
        act_cfg (dict): Config of the activation layer.

    Shape:
        (N, in_channels, H, W) -> (N, out_channels, 2H, 2W)
    """

    def __init__(self, in_channels: int, out_channels: int,
                 norm_cfg: ConfigType, act_cfg: ConfigType) -> None:
        super().__init__()
        self.add_module('deconv', nn.ConvTranspose2d(
            in_channels, out_channels, kernel_size=3, stride=2, padding=1,
            output_padding=1, bias=False))
        self.add_module('bn', build_norm_layer(norm_cfg, out_channels)[1])
        self.add_module('activate', build_activation_layer(act_cfg))


class SharedResBlock(BaseModule):
    """The decoder function F: a residual block whose two 3x3 convs share
    one weight (paper eq. 3, fig. 3), each with its own norm layer.

    Args:
        channels (int): Input and output channels.
        norm_cfg (dict): Config of the norm layers.
        act_cfg (dict): Config of the activation layers.
        shared (bool): The two convolutions share one weight (``conv``;
            False: ``conv1``, ``conv2``, the ablation). Default: True.
        init_cfg (dict, optional): Initialisation config.

    Shape:
        (N, channels, H, W) -> (N, channels, H, W)
    """

    def __init__(self, channels: int, norm_cfg: ConfigType,
                 act_cfg: ConfigType, shared: bool = True,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg)
        for name in ('conv', ) if shared else ('conv1', 'conv2'):
            self.add_module(name, nn.Conv2d(channels, channels, kernel_size=3,
                                            padding=1, bias=False))
        self.bn1 = build_norm_layer(norm_cfg, channels)[1]
        self.bn2 = build_norm_layer(norm_cfg, channels)[1]
        self.act1 = build_activation_layer(act_cfg)
        self.act2 = build_activation_layer(act_cfg)

    def _convs(self) -> Tuple[nn.Module, nn.Module]:
        """The first and the second convolution (the same when shared)."""
        return ((self.conv, self.conv) if hasattr(self, 'conv') else
                (self.conv1, self.conv2))

    def forward(self, x: Tensor) -> Tensor:
        """Forward function."""
        conv1, conv2 = self._convs()
        out = self.act1(self.bn1(conv1(x)))
        out = self.bn2(conv2(out))
        return self.act2(out + x)

    def fuse(self) -> None:
        """Fold the eval-mode BNs into ``conv1``/``conv2`` (one per BN, for
        ``models.fuse_conv_bn``); the BNs become ``nn.Identity``."""
        conv1, conv2 = self._convs()
        self.conv1 = fold_bn_into_conv(conv1, self.bn1)
        self.conv2 = fold_bn_into_conv(conv2, self.bn2)
        self.bn1, self.bn2 = nn.Identity(), nn.Identity()
        if hasattr(self, 'conv'):
            del self.conv


def _check_levels(name: str, value: Sequence, expected: int = NUM_LEVELS
                  ) -> Tuple:
    """``value`` as a tuple, checked to be ``expected`` positive ints."""
    if not isinstance(value, (list, tuple)) or len(value) != expected:
        raise ValueError(
            f'RGPHead: `{name}` must be a list of {expected} values, one per '
            f'encoder level (1/4, 1/8, 1/16, 1/32), got {value!r}')
    if name != 'in_index' and not all(
            isinstance(v, int) and v > 0 for v in value):
        raise ValueError(
            f'RGPHead: `{name}` must hold positive integers, got {value!r}')
    return tuple(value)


@MODELS.register_module()
class RGPHead(BaseDecodeHead):
    """RGPNet decode head (adaptor + light asymmetric decoder).

    For the four encoder levels ``s`` (strides 4, 8, 16, 32) it computes,
    deepest level first (paper eq. 1-3)::

        x_s^a = D(T(x_{s-1}^e)) + T(x_s^e) + U(x_{s+1}^d)
        x_s^d = F_s(x_s^a)

    with ``T`` a 1x1 conv + BN + ReLU, ``D`` a 3x3 stride-2 conv + BN + ReLU,
    ``U`` a 3x3 stride-2 transposed conv + BN + ReLU and ``F_s`` a residual
    block with one shared weight; no ``D`` at 1/4, no ``U`` at 1/32.

    Args:
        in_channels (Sequence[int]): Channels of the four encoder levels.
        channels (int): Channels of the 1/4 decoder output (the classifier's
            input); must equal ``adaptor_channels[0]``.
        adaptor_channels (Sequence[int]): Adaptor/decoder widths per level.
            Default: ``(64, 128, 256, 512)``.
        use_downsample (bool): Use the downsampling connections ``D`` (the
            paper's "DS", off in the table 6 ablation). Default: True.
        share_decoder_weights (bool): The two convolutions of each ``F_s``
            share one weight (eq. 3; False: the ablation). Default: True.
        in_index (Sequence[int]): Which backbone outputs to use.
            Default: ``(0, 1, 2, 3)``.
        dropout_ratio (float): Dropout before the classifier. Default: 0.0.
        **kwargs: Other arguments of ``BaseDecodeHead`` (``num_classes``,
            ``norm_cfg``, ``loss_decode``, ``sampler``...).

    Shape:
        inputs: four tensors (N, in_channels[s], H/2^(s+2), W/2^(s+2)).
        output: (N, num_classes, H/4, W/4).
    """

    def __init__(self, in_channels: Sequence[int], channels: int = 64,
                 adaptor_channels: Sequence[int] = (64, 128, 256, 512),
                 use_downsample: bool = True,
                 share_decoder_weights: bool = True,
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 dropout_ratio: float = 0.0,
                 input_transform: str = 'multiple_select', **kwargs) -> None:
        in_channels = _check_levels('in_channels', in_channels)
        in_index = _check_levels('in_index', in_index)
        adaptor_channels = _check_levels('adaptor_channels',
                                         adaptor_channels)
        if channels != adaptor_channels[0]:
            raise ValueError(
                f'RGPHead: `channels` ({channels}) is the width of the 1/4 '
                f'decoder output that the classifier sees and must equal '
                f'adaptor_channels[0] ({adaptor_channels[0]})')
        if input_transform != 'multiple_select':
            raise ValueError(
                'RGPHead: `input_transform` must be \'multiple_select\' '
                f'(the head fuses the levels itself), got {input_transform!r}')
        super().__init__(list(in_channels), channels, in_index=list(in_index),
                         input_transform=input_transform,
                         dropout_ratio=dropout_ratio, **kwargs)
        if self.norm_cfg is None:
            raise ValueError('RGPHead: `norm_cfg` must be set (the paper '
                             'uses BN after every convolution), got None')
        self.adaptor_channels = adaptor_channels
        self.use_downsample = use_downsample
        conv_kwargs = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                           act_cfg=self.act_cfg)
        self.transfers = nn.ModuleList(
            ConvModule(c_in, c_out, 1, **conv_kwargs)
            for c_in, c_out in zip(in_channels, adaptor_channels))
        # downsamples[s - 1]: adaptor level s-1 -> level s, for s = 1..3
        if use_downsample:
            self.downsamples = nn.ModuleList(
                ConvModule(c_in, c_out, 3, stride=2, padding=1, **conv_kwargs)
                for c_in, c_out in zip(adaptor_channels[:-1],
                                       adaptor_channels[1:]))
        # upsamples[s]: decoder level s+1 -> level s, for s = 0..2
        self.upsamples = nn.ModuleList(
            UpConvModule(c_in, c_out, self.norm_cfg, self.act_cfg)
            for c_in, c_out in zip(adaptor_channels[1:],
                                   adaptor_channels[:-1]))
        self.decoders = nn.ModuleList(
            SharedResBlock(c, self.norm_cfg, self.act_cfg,
                           share_decoder_weights) for c in adaptor_channels)

    def _check_inputs(self, inputs: List[Tensor]) -> None:
        """Raise a clear error when the backbone's features do not fit."""
        if len(inputs) <= max(self.in_index):
            raise ValueError(
                f'RGPHead: `in_index`={self.in_index} selects backbone '
                f'outputs that do not exist: the backbone gave {len(inputs)} '
                'feature maps; set backbone.out_indices to four levels '
                '(e.g. (0, 1, 2, 3))')
        got = [inputs[i].shape[1] for i in self.in_index]
        if got != list(self.in_channels):
            raise ValueError(
                f'RGPHead: `in_channels`={tuple(self.in_channels)} does not '
                f'match the backbone, whose selected levels have channels '
                f'{tuple(got)}; set decode_head.in_channels={tuple(got)}')

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Forward function.

        Args:
            inputs (list[Tensor]): Multi-level backbone features.

        Returns:
            Tensor: Segmentation logits, shape (N, num_classes, H/4, W/4).
        """
        self._check_inputs(inputs)
        feats = self._transform_inputs(inputs)
        transferred = [t(x) for t, x in zip(self.transfers, feats)]
        dec = None
        for s in reversed(range(NUM_LEVELS)):
            x = transferred[s]
            if self.use_downsample and s > 0:
                x = x + match_size(self.downsamples[s - 1](
                    transferred[s - 1]), x)
            if dec is not None:
                x = x + match_size(self.upsamples[s](dec), x)
            dec = self.decoders[s](x)
        return self.cls_seg(dec)
