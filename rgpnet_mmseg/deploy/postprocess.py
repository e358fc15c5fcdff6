# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""A deployed model's batch output to ``pred_sem_seg`` at each image's
``ori_shape``: mmseg's labels (``BaseSegmentor.postprocess_result``: crop
the padding, flip back, resize the logits bilinearly, argmax) without
resizing every logit channel to the image.

Bilinear interpolation makes an output pixel a convex combination of the
2 x 2 source pixels ``F.interpolate`` picks for it; where these all have the
same argmax class, so has the output pixel (a convex combination keeps the
maximum). Only the other pixels, near class boundaries, get their logits
interpolated, with PyTorch's own source coordinates and weights (float32,
as its kernels compute them). The labels equal mmseg's but where two
classes' interpolated logits tie within float rounding
(``tests/test_postprocess.py``).
"""
from types import SimpleNamespace
from typing import Sequence, Tuple

import torch
from torch import Tensor


def source_index(n_in: int, n_out: int, align_corners: bool,
                 device=None) -> Tuple[Tensor, Tensor, Tensor]:
    """Where ``F.interpolate(mode='bilinear')`` reads along one axis.

    Args:
        n_in (int): Source size.
        n_out (int): Output size (the scale is ``n_in / n_out``, or
            ``(n_in - 1) / (n_out - 1)`` with ``align_corners``).
        align_corners (bool): As for ``F.interpolate``; False maps pixel
            centres (half-pixel), clamped at 0.
        device: Where the indices are made.

    Returns:
        tuple: ``(i0, i1, lambda1)`` per output pixel: the two source pixels
        (int64; ``i1 = i0`` at the last one) and the weight of ``i1``.
    """
    dst = torch.arange(n_out, dtype=torch.float32, device=device)
    if align_corners:
        scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.
        src = dst * torch.tensor(scale, dtype=torch.float32, device=device)
    else:
        scale = torch.tensor(n_in / n_out, dtype=torch.float32,
                             device=device)
        src = ((dst + 0.5) * scale - 0.5).clamp_min(0)
    i0 = src.floor().long().clamp_max(n_in - 1)
    return i0, (i0 + 1).clamp_max(n_in - 1), (src - i0).clamp(0, 1)


def crop(outputs: Tensor, metainfo: dict) -> Tensor:
    """``outputs[..., h, w]`` without the padding (``img_padding_size``,
    else ``padding_size``: left, right, top, bottom) and flipped back
    (``flip``, ``flip_direction``), as mmseg's ``postprocess_result``."""
    H, W = outputs.shape[-2:]
    left, right, top, bottom = metainfo.get(
        'img_padding_size', metainfo.get('padding_size', [0] * 4))
    outputs = outputs[..., top:H - bottom, left:W - right]
    if metainfo.get('flip', None):
        direction = metainfo.get('flip_direction', None)
        assert direction in ('horizontal', 'vertical'), direction
        outputs = outputs.flip(-1 if direction == 'horizontal' else -2)
    return outputs


def argmax0(x: Tensor) -> Tensor:
    """``x.argmax(0)`` (the first maximum), by ``amax`` (vectorised over
    the inner dims on the CPU, where ``argmax(0)`` is not)."""
    dtype = torch.int8 if len(x) < 128 else torch.int32
    rank = torch.arange(len(x), 0, -1, dtype=dtype, device=x.device)
    rank = rank.view(-1, *[1] * (x.dim() - 1))
    return len(x) - ((x == x.amax(0)) * rank).amax(0).long()


def _segments(i0: Tensor, n_in: int, size: int) -> Tuple[Tensor, ...]:
    """The runs of output pixels reading each source pixel ``i0``
    (non-decreasing), cut into pieces of at most ``size``: ``(source,
    start, length)`` per piece."""
    n = torch.bincount(i0, minlength=n_in)
    pieces = (n + size - 1) // size
    src = torch.repeat_interleave(torch.arange(n_in, device=i0.device),
                                  pieces)
    j = torch.arange(len(src), device=i0.device) - \
        (pieces.cumsum(0) - pieces)[src]
    return src, (n.cumsum(0) - n)[src] + j * size, \
        (n[src] - j * size).clamp_max(size)


def resized_labels(logits: Tensor, size: Sequence[int],
                   align_corners: bool, chunk: int = 1 << 20) -> Tensor:
    """``argmax(F.interpolate(logits[None], size, mode='bilinear'))``,
    interpolating only the pixels whose source pixels disagree.

    The output pixels reading source cell ``(Y, X)`` (pixels ``Y, Y + 1``
    by ``X, X + 1``) form a block; a cell whose 4 pixels share a class
    gives its block that class, the others interpolate their block from
    the cell's 4 logit vectors (along x, then y, as ``F.interpolate``).

    Args:
        logits (Tensor): ``C x h x w`` float logits.
        size (Sequence[int]): Output ``(H, W)``.
        align_corners (bool): As for ``F.interpolate``.
        chunk (int): Logits interpolated at once (bounds the memory).

    Returns:
        Tensor: ``H x W`` int64 labels on the logits' device.
    """
    C, h, w = logits.shape
    H, W = int(size[0]), int(size[1])
    labels = argmax0(logits)
    y0, _, wy1 = source_index(h, H, align_corners, logits.device)
    x0, _, wx1 = source_index(w, W, align_corners, logits.device)
    out = labels.new_empty(H * W + 1)  # the last: where padding is written
    torch.index_select(labels.index_select(1, x0), 0, y0,
                       out=out[:-1].view(H, W))
    down = torch.cat([labels[1:], labels[-1:]], 0)
    right = torch.cat([labels[:, 1:], labels[:, -1:]], 1)
    down_right = torch.cat([down[:, 1:], down[:, -1:]], 1)
    # cells whose 4 pixels disagree (the last row and column replicated,
    # where F.interpolate reads one twice), as blocks of output pixels
    mixed = (labels != down) | (labels != right) | (labels != down_right)
    Y, y_at, ny = _segments(y0, h, -(-H // h))
    X, x_at, nx = _segments(x0, w, -(-W // w))
    sy, sx = mixed[Y][:, X].nonzero().unbind(1)
    if not len(sy):
        return out[:-1].view(H, W)
    Y, X, by, bx = Y[sy], X[sx], -(-H // h), -(-W // w)
    y_at = y_at[sy, None] + torch.arange(by, device=out.device)
    x_at = x_at[sx, None] + torch.arange(bx, device=out.device)
    at = torch.where((y_at < (y_at[:, :1] + ny[sy, None]))[:, :, None] &
                     (x_at < (x_at[:, :1] + nx[sx, None]))[:, None, :],
                     y_at[:, :, None] * W + x_at[:, None, :], H * W)
    # blocks laid out by x bx x K: the K cells innermost, so vectorised
    wy, wx = wy1[y_at.clamp_max(H - 1)].t(), wx1[x_at.clamp_max(W - 1)].t()
    at = at.permute(1, 2, 0)
    Y1, X1 = (Y + 1).clamp_max(h - 1) * w, (X + 1).clamp_max(w - 1)
    flat = logits.reshape(C, h * w)
    corners = [flat[:, i] for i in (Y * w + X, Y * w + X1, Y1 + X, Y1 + X1)]
    step = max(1, chunk // (by * bx * C))
    for k in range(0, len(Y), step):
        cut = slice(k, k + step)
        out[at[..., cut].reshape(-1)] = _blend(
            [c[:, cut] for c in corners], wy[:, cut], wx[:, cut]).reshape(-1)
    return out[:-1].view(H, W)


def _blend(corners: list, wy: Tensor, wx: Tensor) -> Tensor:
    """Argmax of the bilinear blends (``by x bx x K``) of K cells' corner
    logits (4 ``C x K``) at weights ``wy`` (``by x K``), ``wx`` (``bx x K``)
    of their second row and column."""
    a, b, c, d = (x[:, None] for x in corners)
    top, bottom = a * (1 - wx) + b * wx, c * (1 - wx) + d * wx
    return argmax0(top[:, None] * (1 - wy[:, None]) +
                   bottom[:, None] * wy[:, None])


def postprocess(outputs: Tensor, data_samples: list, align_corners: bool,
                threshold: float = 0.3, with_logits: bool = False) -> list:
    """A deployed model's batch output to ``pred_sem_seg`` (``1 x H x W``
    int64) at each sample's ``ori_shape``, the padding cropped.

    Args:
        outputs (Tensor): Logits (float ``N x C x h x w`` at the network's
            input size) or labels (int ``N x 1 x h x w`` or ``N x h x w``,
            argmax in the graph: resized nearest-neighbour).
        data_samples (list): SegDataSamples with ``ori_shape`` (and
            ``padding_size``, ``flip``); set in place and returned.
        align_corners (bool): The decode head's ``align_corners``.
        threshold (float): One channel: sigmoid above it is class 1.
        with_logits (bool): Logits: True runs mmseg's own
            ``BaseSegmentor.postprocess_result`` (also sets ``seg_logits``,
            ``C x H x W``); False (default) sets ``pred_sem_seg`` only, by
            :func:`resized_labels` (the same labels, much faster).

    Returns:
        list: ``data_samples``.
    """
    from mmengine.structures import PixelData
    if outputs.is_floating_point():
        outputs = outputs.float()
        if with_logits or outputs.shape[1] == 1 or data_samples is None:
            from mmseg.models.segmentors import BaseSegmentor
            head = SimpleNamespace(
                align_corners=align_corners,
                decode_head=SimpleNamespace(threshold=threshold))
            return BaseSegmentor.postprocess_result(head, outputs,
                                                    data_samples)
        for logits, sample in zip(outputs, data_samples):
            labels = resized_labels(crop(logits, sample.metainfo),
                                    sample.metainfo['ori_shape'],
                                    align_corners)
            sample.pred_sem_seg = PixelData(data=labels[None])
        return data_samples
    from mmseg.models.utils import resize
    outputs = outputs.reshape(len(data_samples), 1, *outputs.shape[-2:])
    for labels, sample in zip(outputs, data_samples):
        labels = resize(crop(labels, sample.metainfo)[None].float(),
                        size=sample.metainfo['ori_shape'], mode='nearest')
        sample.pred_sem_seg = PixelData(data=labels[0].long())
    return data_samples
