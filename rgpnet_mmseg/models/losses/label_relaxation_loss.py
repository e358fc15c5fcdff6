# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Label-relaxation loss of RGPNet (sec. 3.2, eq. 4): ``-log sum_{c in N}
p_c`` at border pixels (``N``: the labels of the ``k x k`` window, more than
one), cross-entropy elsewhere, with mmseg's ``cross_entropy`` reduction.
"""
from typing import List, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from mmseg.models.losses.utils import get_class_weight, weight_reduce_loss
from mmseg.registry import MODELS

__all__ = ['border_mask', 'border_label_mask', 'label_relaxation_loss',
           'LabelRelaxationLoss']


def _check_kernel_size(kernel_size: int) -> None:
    if (not isinstance(kernel_size, int) or isinstance(kernel_size, bool)
            or kernel_size < 1 or kernel_size % 2 == 0):
        raise ValueError('kernel_size must be a positive odd int, '
                         f'got {kernel_size!r}')


def _valid_labels(label: Tensor, num_classes: Optional[int],
                  ignore_index: int) -> Tuple[Tensor, Tensor, int]:
    """``(valid, safe, C)``: non-ignored mask (N, H, W), long labels with
    ignored set to 0, ``C`` (None: max label + 1); checks ``[0, C)``."""
    if label.dim() != 3:
        raise ValueError(
            f'label must have shape (N, H, W), got {tuple(label.shape)}')
    if label.dtype.is_floating_point or label.dtype == torch.bool:
        raise ValueError(f'label must be an integer tensor, got {label.dtype}')
    label = label.long()
    valid = label != ignore_index
    safe = label.masked_fill(~valid, 0)
    low, high = (torch.stack(torch.aminmax(safe)).tolist()
                 if safe.numel() > 0 else (0, -1))
    if num_classes is None:
        num_classes = max(high + 1, 1)
    if low < 0 or high >= num_classes:
        bad = valid & ((label < 0) | (label >= num_classes))
        values = torch.unique(label[bad]).tolist()
        more = f' (and {len(values) - 10} more)' if len(values) > 10 else ''
        raise ValueError(
            f'Label relaxation loss got label values {values[:10]}{more} '
            f'outside [0, num_classes={num_classes}) that are not '
            f'ignore_index={ignore_index}.')
    return valid, safe, num_classes


def _window_max(x: Tensor, radius: int) -> Tensor:
    """Separable max over the (2r+1)^2 window of the last two dims, cut at
    the edges."""
    for dim in (-1, -2):
        src = x
        x = src.clone()
        n = src.shape[dim]
        for s in range(1, min(radius, n - 1) + 1):
            head = x.narrow(dim, 0, n - s)
            tail = x.narrow(dim, s, n - s)
            torch.maximum(tail, src.narrow(dim, 0, n - s), out=tail)
            torch.maximum(head, src.narrow(dim, s, n - s), out=head)
    return x


def _encoded_border(valid: Tensor, safe: Tensor, num_classes: int,
                    kernel_size: int) -> Tuple[Tensor, Tensor]:
    """``(enc, border)``: the (N, 2, H, W) small-int map of ``label + 1``
    and ``C - label`` (ignored: 0) and the (N, H, W) bool border mask."""
    dtype = (torch.uint8 if num_classes <= 254 else
             torch.int16 if num_classes <= 32766 else torch.int32)
    small = safe.to(dtype)
    enc = small.new_empty((safe.shape[0], 2, *safe.shape[1:]))
    torch.add(small, 1, out=enc[:, 0])
    torch.sub(num_classes, small, out=enc[:, 1])
    enc.mul_(valid.unsqueeze(1))
    if kernel_size == 1:
        return enc, torch.zeros_like(valid)
    pooled = _window_max(enc, kernel_size // 2)
    # at a valid pixel: pooled[:, 0] = max + 1, pooled[:, 1] = C - min, so
    # the window holds one label iff pooled[:, 0] == C + 1 - pooled[:, 1]
    return enc, valid & (pooled[:, 0] != (num_classes + 1) - pooled[:, 1])


def border_mask(label: Tensor, kernel_size: int = 3, ignore_index: int = 255,
                num_classes: Optional[int] = None) -> Tensor:
    """Border pixels of a label map: not ignored, with more than one label
    in their ``k x k`` window (ignored and out-of-image pixels not counted).

    Args:
        label (Tensor): Integer label map of shape (N, H, W).
        kernel_size (int): Odd window size ``k``. Default: 3.
        ignore_index (int): Label value to ignore. Default: 255.
        num_classes (int, optional): Number of classes ``C``; labels must
            lie in ``[0, C)``. Default: None (max label + 1).

    Returns:
        Tensor: Bool tensor of shape (N, H, W), True at border pixels.
    """
    _check_kernel_size(kernel_size)
    valid, safe, num_classes = _valid_labels(label, num_classes, ignore_index)
    return _encoded_border(valid, safe, num_classes, kernel_size)[1]


def _border_neighbour_labels(valid: Tensor, safe: Tensor, num_classes: int,
                             kernel_size: int) -> Tuple[Tensor, Tensor]:
    """Flat indices ``b*H*W + i*W + j`` (P,) of the border pixels (row-major)
    and their (P, C) bool label masks."""
    enc, border = _encoded_border(valid, safe, num_classes, kernel_size)
    pix = border.reshape(-1).nonzero().squeeze(1)
    num_border = pix.numel()
    if num_border == 0:
        return pix, valid.new_zeros((0, num_classes))
    _, h, w = valid.shape
    r = kernel_size // 2
    offsets = torch.arange(-r, r + 1, device=valid.device)
    i_idx = pix.div(w, rounding_mode='floor').remainder_(h)
    j_idx = pix.remainder(w)
    # clamped coordinates land inside the same window: harmless duplicates
    ii = (i_idx[:, None] + offsets[None, :]).clamp_(0, h - 1)  # (P, k)
    jj = (j_idx[:, None] + offsets[None, :]).clamp_(0, w - 1)  # (P, k)
    row0 = (pix - i_idx * w - j_idx)[:, None, None]  # b * H * W
    flat = (row0 + ii[:, :, None] * w + jj[:, None, :]).reshape(
        num_border, -1)  # (P, k*k)
    # label + 1 of each neighbour, 0 for ignored ones (dropped column 0)
    neighbours = enc[:, 0].reshape(-1)[flat].long()
    mask = valid.new_zeros((num_border, num_classes + 1))
    mask.scatter_(1, neighbours, True)
    return pix, mask[:, 1:]


def border_label_mask(
        label: Tensor, num_classes: int, kernel_size: int = 3,
        ignore_index: int = 255) -> Tuple[Tuple[Tensor, Tensor, Tensor],
                                          Tensor]:
    """Border pixels and the set of labels in each one's window.

    Args:
        label (Tensor): Integer label map of shape (N, H, W).
        num_classes (int): Number of classes ``C``.
        kernel_size (int): Odd window size ``k``. Default: 3.
        ignore_index (int): Label value to ignore. Default: 255.

    Returns:
        tuple: ``(indices, labels)``: ``(batch, row, col)`` long tensors (P,)
        of the border pixels (as ``border_mask(...).nonzero()``) and (P, C)
        bools, True for the non-ignored labels in each window.
    """
    _check_kernel_size(kernel_size)
    valid, safe, num_classes = _valid_labels(label, num_classes, ignore_index)
    pix, labels = _border_neighbour_labels(valid, safe, num_classes,
                                           kernel_size)
    h, w = label.shape[1:]
    indices = (pix.div(h * w, rounding_mode='floor'),
               pix.div(w, rounding_mode='floor').remainder(h),
               pix.remainder(w))
    return indices, labels


def _class_index(pix: Tensor, shape: torch.Size) -> Tensor:
    """Flat indices (P, C) into an (N, C, H, W) tensor of the pixels
    ``pix = b*H*W + i*W + j`` (P,), all classes."""
    _, c, h, w = shape
    hw = h * w
    batch_offset = pix.div(hw, rounding_mode='floor') * ((c - 1) * hw)
    return (pix + batch_offset)[:, None] + torch.arange(
        c, device=pix.device) * hw


class _RelaxedNLL(torch.autograd.Function):
    """Per-pixel ``-log p_y`` (as ``F.cross_entropy``), ``-log sum_N p_c`` at
    border pixels; gradient ``g * (softmax - q)``, ``q`` the one-hot label
    or at borders the softmax renormalised over ``N``."""

    @staticmethod
    def forward(ctx, logits: Tensor, label: Tensor, valid: Tensor,
                safe: Tensor, pix: Tensor, nbr_labels: Tensor,
                ignore_index: int) -> Tensor:
        log_prob = F.log_softmax(logits, dim=1)
        loss = F.nll_loss(
            log_prob, label, reduction='none', ignore_index=ignore_index)
        delta = None
        if pix.numel() > 0:
            border_lp = log_prob.take(_class_index(pix, log_prob.shape))
            # log sum_N p, max-shifted: finite even if all p_c underflow
            masked_lp = border_lp.masked_fill(~nbr_labels, float('-inf'))
            max_lp = masked_lp.amax(dim=1, keepdim=True)  # finite: y in N
            exp_n = masked_lp.sub_(max_lp).exp_()  # 0 outside N
            sum_n = exp_n.sum(dim=1, keepdim=True)  # in [1, |N|]
            log_sum_n = sum_n.log().add_(max_lp)
            # -log sum_N p >= 0 up to rounding
            loss.put_(pix, (0.0 - log_sum_n[:, 0]).clamp_min(0.0))
            # border gradient: softmax - softmax renormalised over N
            delta = border_lp.exp_().sub_(exp_n.div_(sum_n))
        ctx.save_for_backward(log_prob, valid, safe, pix, delta)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss: Tensor) -> tuple:
        log_prob, valid, safe, pix, delta = ctx.saved_tensors
        g = grad_loss.to(log_prob.dtype).masked_fill(~valid, 0.0).unsqueeze(1)
        # cross-entropy gradient g * (softmax - one_hot(label)) everywhere
        grad = log_prob.exp().mul_(g)
        grad.scatter_add_(1, safe.unsqueeze(1), -g)
        if delta is not None:
            # border pixels: g * (softmax - softmax renormalised over N)
            grad.put_(
                _class_index(pix, grad.shape), delta * g.take(pix)[:, None])
        return grad, None, None, None, None, None, None


def label_relaxation_loss(pred: Tensor, label: Tensor,
                          weight: Optional[Tensor] = None,
                          class_weight: Optional[Tensor] = None,
                          reduction: str = 'mean',
                          avg_factor: Optional[Union[int, float,
                                                     Tensor]] = None,
                          ignore_index: int = -100,
                          avg_non_ignore: bool = False,
                          kernel_size: int = 3) -> Tensor:
    """Label-relaxation loss (RGPNet eq. 4) with mmseg CE reduction.

    Per pixel ``-log sum_N p_c`` at borders, ``-log p_y`` elsewhere, 0 where
    ignored, times the class weight of its label and ``weight``; 'mean'
    divides as mmseg's ``cross_entropy`` (ignored pixels weigh 1 where mmseg
    raises). Computed in float32 (float64 stays) without autocast.

    Args:
        pred (Tensor): Logits of shape (N, C, H, W).
        label (Tensor): Integer labels of shape (N, H, W).
        weight (Tensor, optional): Per-pixel weight (N, H, W). Default: None.
        class_weight (Tensor, optional): Class weights (C,). Default: None.
        reduction (str): 'none', 'mean' or 'sum'. Default: 'mean'.
        avg_factor (int | float | Tensor, optional): Divisor of the 'mean'
            reduction. Default: None.
        ignore_index (int): Label value to ignore. Default: -100.
        avg_non_ignore (bool): Mean over non-ignored pixels. Default: False.
        kernel_size (int): Odd border window size. Default: 3.

    Returns:
        Tensor: The loss, a scalar, or of shape (N, H, W) for 'none'.
    """
    _check_kernel_size(kernel_size)
    if pred.dim() != 4 or label.dim() != 3 or (
            pred.shape[0], *pred.shape[2:]) != tuple(label.shape):
        raise ValueError('label relaxation loss expects pred (N, C, H, W) '
                         'and label (N, H, W), got '
                         f'{tuple(pred.shape)} and {tuple(label.shape)}')
    if reduction not in ('none', 'mean', 'sum'):
        raise ValueError(f'invalid reduction {reduction!r}')
    num_classes = pred.shape[1]
    with torch.no_grad():
        valid, safe, _ = _valid_labels(label, num_classes, ignore_index)
        pix, nbr_labels = _border_neighbour_labels(valid, safe, num_classes,
                                                   kernel_size)
    label = label.long()

    compute_dtype = (pred.dtype if pred.dtype in (torch.float32, torch.float64)
                     else torch.float32)
    with torch.autocast(device_type=pred.device.type, enabled=False):
        loss = _RelaxedNLL.apply(
            pred.to(compute_dtype), label, valid, safe, pix, nbr_labels,
            ignore_index)
        if class_weight is not None:
            class_weight = torch.as_tensor(
                class_weight, dtype=compute_dtype, device=pred.device)
            loss = loss * class_weight[safe]
        # reduction, as mmseg.models.losses.cross_entropy
        if avg_factor is None and reduction == 'mean':
            if class_weight is None:
                avg_factor = (int(valid.sum().item()) if avg_non_ignore else
                              label.numel())
            else:  # ignored pixels: 1 where mmseg raises an IndexError
                fill = (0 if avg_non_ignore else
                        float(class_weight[ignore_index])
                        if 0 <= ignore_index < num_classes else 1)
                avg_factor = class_weight[safe].masked_fill(~valid,
                                                            fill).sum()
        return weight_reduce_loss(
            loss, weight=None if weight is None else weight.float(),
            reduction=reduction, avg_factor=avg_factor)


@MODELS.register_module()
class LabelRelaxationLoss(nn.Module):
    """Label-relaxation loss of RGPNet (sec. 3.2, eq. 4), a drop-in for
    mmseg's ``CrossEntropyLoss`` (see :func:`label_relaxation_loss`); in a
    list with ``CrossEntropyLoss`` the non-border pixels count twice.

    Args:
        reduction (str): 'none', 'mean' or 'sum'. Default: 'mean'.
        class_weight (list[float] | str, optional): Weight of each class, or
            a file to read them from. Default: None.
        loss_weight (float): Weight of the loss. Default: 1.0.
        loss_name (str): Name of the loss item (``loss_``: back-propagated).
            Default: 'loss_lr'.
        avg_non_ignore (bool): Mean over non-ignored pixels. Default: False.
        kernel_size (int): Odd size ``k`` of the border window. Default: 3.
    """

    def __init__(self, reduction: str = 'mean',
                 class_weight: Optional[Union[List[float], str]] = None,
                 loss_weight: float = 1.0, loss_name: str = 'loss_lr',
                 avg_non_ignore: bool = False, kernel_size: int = 3) -> None:
        super().__init__()
        if reduction not in ('none', 'mean', 'sum'):
            raise ValueError(f'invalid reduction {reduction!r}')
        _check_kernel_size(kernel_size)
        self.reduction = reduction
        self.class_weight = get_class_weight(class_weight)
        self.loss_weight = loss_weight
        self.avg_non_ignore = avg_non_ignore
        self.kernel_size = kernel_size
        self._loss_name = loss_name

    def extra_repr(self) -> str:
        """Extra repr."""
        return (f'kernel_size={self.kernel_size}, '
                f'avg_non_ignore={self.avg_non_ignore}')

    def forward(self, cls_score: Tensor, label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[int, float, Tensor]] = None,
                reduction_override: Optional[str] = None,
                ignore_index: int = -100, **kwargs) -> Tensor:
        """The arguments of mmseg's ``CrossEntropyLoss``
        (:func:`label_relaxation_loss`); (N, H, W) for 'none'."""
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        class_weight = None if self.class_weight is None else \
            cls_score.new_tensor(self.class_weight, dtype=torch.float32)
        return self.loss_weight * label_relaxation_loss(
            cls_score, label, weight, class_weight=class_weight,
            reduction=reduction, avg_factor=avg_factor,
            ignore_index=ignore_index, avg_non_ignore=self.avg_non_ignore,
            kernel_size=self.kernel_size)

    @property
    def loss_name(self) -> str:
        """Name of the loss item (``loss_`` prefix: back-propagated)."""
        return self._loss_name
