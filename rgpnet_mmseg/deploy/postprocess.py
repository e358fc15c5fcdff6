# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""A deployed model's batch output to mmseg's labels at each image's size
(``postprocess_result``), interpolating only the logits of pixels whose 2 x 2
source pixels disagree: ``F.interpolate``'s labels but for float ties."""
from types import SimpleNamespace
from typing import Sequence, Tuple

import torch
from torch import Tensor


def source_index(n_in: int, n_out: int, align_corners: bool,
                 device=None) -> Tuple[Tensor, Tensor]:
    """``(i0, lambda1)``, where bilinear ``F.interpolate`` reads for ``n_out``
    pixels of ``n_in``: the first source pixel, the second's weight."""
    dst = torch.arange(n_out, dtype=torch.float32, device=device)
    scale = torch.tensor((n_in - 1) / max(n_out - 1, 1) if align_corners
                         else n_in / n_out, dtype=torch.float32, device=device)
    src = dst * scale if align_corners else \
        ((dst + 0.5) * scale - 0.5).clamp_min(0)
    i0 = src.floor().long().clamp_max(n_in - 1)
    return i0, (src - i0).clamp(0, 1)


def crop(outputs: Tensor, metainfo: dict) -> Tensor:
    """``outputs[..., h, w]`` unpadded and flipped back by ``metainfo``."""
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
    """``x.argmax(0)`` (NaN: the last index), vectorised by ``amax``."""
    dtype = torch.int8 if len(x) < 128 else torch.int32
    rank = torch.arange(len(x), 0, -1, dtype=dtype, device=x.device)
    rank = ((x == x.amax(0)) * rank.view(-1, *[1] * (x.dim() - 1))).amax(0)
    return (len(x) - rank.long()).clamp_max(len(x) - 1)


def _segments(i0: Tensor, n_in: int, size: int) -> Tuple[Tensor, ...]:
    """``(source, start, length)`` of the runs of output pixels reading
    each source pixel (``i0`` sorted), in pieces of at most ``size``."""
    n = torch.bincount(i0, minlength=n_in)
    at = torch.arange(len(i0), device=i0.device) - (n.cumsum(0) - n)[i0]
    length = torch.unique_consecutive(i0 * len(i0) + at // size,
                                      return_counts=True)[1]
    start = length.cumsum(0) - length
    return i0[start], start, length


def resized_labels(logits: Tensor, size: Sequence[int],
                   align_corners: bool, chunk: int = 1 << 19) -> Tensor:
    """``F.interpolate(logits[None], size, mode='bilinear').argmax(1)``: a
    block of output pixels reading source cell ``(Y, X)`` takes its class
    where its 4 pixels agree, else is interpolated from their logits.

    Args:
        logits (Tensor): ``C x h x w`` float logits.
        size (Sequence[int]): Output ``(H, W)``.
        align_corners (bool): As for ``F.interpolate``.
        chunk (int): Logits interpolated at once (bounds the memory).

    Returns:
        Tensor: ``H x W`` int64 labels, on the logits' device.
    """
    C, h, w = logits.shape
    H, W = int(size[0]), int(size[1])
    labels = argmax0(logits)
    y0, wy1 = source_index(h, H, align_corners, logits.device)
    x0, wx1 = source_index(w, W, align_corners, logits.device)
    out = labels.new_empty(H * W + 1)  # the last: where padding is written
    torch.index_select(labels.index_select(1, x0), 0, y0,
                       out=out[:-1].view(H, W))
    # cells whose 4 pixels disagree (the last row and column replicated,
    # where F.interpolate reads one twice), as blocks of output pixels
    yn, xn = ((torch.arange(n, device=out.device) + 1).clamp_max(n - 1)
              for n in (h, w))
    down = labels[yn]
    mixed = (labels != down) | (labels != labels[:, xn]) | \
        (labels != down[:, xn])
    Y, y_at, ny = _segments(y0, h, -(-H // h))
    X, x_at, nx = _segments(x0, w, -(-W // w))
    sy, sx = mixed[Y][:, X].nonzero().unbind(1)
    if not len(sy):
        return out[:-1].view(H, W)
    Y, X, by, bx = Y[sy], X[sx], -(-H // h), -(-W // w)
    # blocks laid out by x bx x K, the K cells innermost (vectorised)
    y_at = y_at[sy] + torch.arange(by, device=out.device)[:, None]
    x_at = x_at[sx] + torch.arange(bx, device=out.device)[:, None]
    at = torch.where((y_at < y_at[:1] + ny[sy])[:, None] &
                     (x_at < x_at[:1] + nx[sx])[None],
                     y_at[:, None] * W + x_at[None], H * W)
    wy, wx = wy1[y_at.clamp_max(H - 1)], wx1[x_at.clamp_max(W - 1)]
    Y1, X1 = (Y + 1).clamp_max(h - 1) * w, (X + 1).clamp_max(w - 1)
    flat = logits.reshape(C, h * w)
    corners = torch.stack([flat[:, i] for i in (Y * w + X, Y * w + X1,
                                                Y1 + X, Y1 + X1)])
    # a class whose largest corner is below the largest smallest corner (less
    # a margin for float rounding) never wins in the cell
    floor = corners.amin(0).amax(0) - 1e-5 * corners.abs().amax((0, 1))
    high = corners.amax(0)
    m = int((~(high < floor)).sum(0).max())  # NaN: all
    classes = high.topk(m, 0, sorted=False).indices.sort(0).values  # first
    corners = corners.gather(1, classes.expand(4, -1, -1))
    step = max(1, chunk // (by * bx * len(classes)))
    for k in range(0, len(Y), step):  # along x, then y, as F.interpolate
        a, b, c, d = (x[:, None, k:k + step] for x in corners)
        vx, vy = wx[:, k:k + step], wy[:, None, k:k + step]
        top, bottom = a * (1 - vx) + b * vx, c * (1 - vx) + d * vx
        best = argmax0(top[:, None] * (1 - vy) + bottom[:, None] * vy)
        out[at[..., k:k + step].reshape(-1)] = classes[:, k:k + step].gather(
            0, best.view(-1, best.shape[-1])).view(-1)
    return out[:-1].view(H, W)


def postprocess(outputs: Tensor, data_samples: list, align_corners: bool,
                threshold: float = 0.3, with_logits: bool = False) -> list:
    """A deployed model's batch output to ``pred_sem_seg`` (``1 x H x W``
    int64) at each sample's ``ori_shape``, the padding cropped.

    Args:
        outputs (Tensor): Float logits ``N x C x h x w`` (at the network's
            input size), or labels ``N [x 1] x h x w`` (resized nearest).
        data_samples (list): SegDataSamples (``ori_shape``, ...), set.
        align_corners (bool): The decode head's ``align_corners``.
        threshold (float): One channel: sigmoid above it is class 1.
        with_logits (bool): True: mmseg's own ``postprocess_result`` (also
            ``seg_logits``); False: :func:`resized_labels` (same labels).
    """
    from mmengine.structures import PixelData
    from mmseg.models.utils import resize
    floats = outputs.is_floating_point()
    if floats:
        outputs = outputs.float()
        if with_logits or outputs.shape[1] == 1 or data_samples is None:
            from mmseg.models.segmentors import BaseSegmentor
            head = SimpleNamespace(
                align_corners=align_corners,
                decode_head=SimpleNamespace(threshold=threshold))
            return BaseSegmentor.postprocess_result(head, outputs,
                                                    data_samples)
    else:
        outputs = outputs.reshape(len(data_samples), 1, *outputs.shape[-2:])
    for out, sample in zip(outputs, data_samples):
        out, size = crop(out, sample.metainfo), sample.metainfo['ori_shape']
        sample.pred_sem_seg = PixelData(data=resized_labels(
            out, size, align_corners)[None] if floats else resize(
                out[None].float(), size=size, mode='nearest')[0].long())
    return data_samples
