# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Tests of the label-relaxation loss (RGPNet sec. 3.2, eq. 4)."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from rgpnet_mmseg.models.losses import (LabelRelaxationLoss,
                                        border_label_mask, border_mask,
                                        label_relaxation_loss)

IGNORE = 255


@pytest.fixture(autouse=True)
def _single_thread():
    """Tiny tensors: one intra-op thread.  On a loaded 2-core machine an
    OpenMP region (log_softmax, nll_loss) waits ~20 ms for the busy core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------
# Hand-computed case
# --------------------------------------------------------------------------
# 4 x 4 map, labels 0..2 of C = 4 classes, one ignored pixel (X):
#   0 0 1 1
#   0 0 1 1
#   2 2 X 1
#   2 2 2 2
X = IGNORE
HAND_LABEL = [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, X, 1], [2, 2, 2, 2]]
# Border pixels (3 x 3 windows, cut at the edges, X not a label), by hand:
#  (1, 3) sees only 1s and X, (3, 1) only 2s and X: not borders.
HAND_BORDER = [[0, 1, 1, 0], [1, 1, 1, 0], [1, 1, 0, 1], [0, 0, 1, 1]]
# Label sets N of the border pixels, read off the map by hand.
HAND_SETS = {
    (0, 1): {0, 1},
    (0, 2): {0, 1},
    (1, 0): {0, 2},
    (1, 1): {0, 1, 2},
    (1, 2): {0, 1, 2},
    (2, 0): {0, 2},
    (2, 1): {0, 1, 2},
    (2, 3): {1, 2},
    (3, 2): {1, 2},
    (3, 3): {1, 2},
}
HAND_C = 4


def _hand_logits() -> torch.Tensor:
    # logits[c][i][j] = sin(1.3 c + 0.7 i - 0.4 j) * (1 + c): distinct
    # values, no ties.
    vals = [[[math.sin(1.3 * c + 0.7 * i - 0.4 * j) * (1 + c)
              for j in range(4)] for i in range(4)] for c in range(HAND_C)]
    return torch.tensor([vals], dtype=torch.float32)


def _hand_pixel_losses(class_weight=None):
    """Per-pixel losses of the hand case in plain Python math."""
    logits = _hand_logits()[0].tolist()
    out = [[0.0] * 4 for _ in range(4)]
    for i in range(4):
        for j in range(4):
            y = HAND_LABEL[i][j]
            if y == IGNORE:
                continue
            exps = [math.exp(logits[c][i][j]) for c in range(HAND_C)]
            z = sum(exps)
            labels = HAND_SETS.get((i, j), {y})
            loss = -math.log(sum(exps[c] for c in labels) / z)
            if class_weight is not None:
                loss *= class_weight[y]
            out[i][j] = loss
    return out


def test_hand_border_set_and_label_sets():
    label = torch.tensor([HAND_LABEL])
    assert border_mask(label, 3, IGNORE).tolist() == [HAND_BORDER]
    (b, i, j), sets = border_label_mask(label, HAND_C, 3, IGNORE)
    assert b.tolist() == [0] * len(HAND_SETS)
    got = {(int(ii), int(jj)): {c for c in range(HAND_C) if s[c]}
           for ii, jj, s in zip(i, j, sets)}
    assert got == HAND_SETS
    # row-major order, as border_mask(...).nonzero()
    assert list(zip(i.tolist(), j.tolist())) == sorted(HAND_SETS)
    # kernel 1: no borders at all
    assert not border_mask(label, 1, IGNORE).any()
    # kernel 5 (radius 2): (0, 0) now sees the 1s and 2s
    assert border_mask(label, 5, IGNORE)[0, 0, 0]
    # an ignore index that is a label value makes the X pixel count
    label_x_as_3 = label.masked_fill(label == IGNORE, 3)
    assert border_mask(label_x_as_3, 3, IGNORE)[0, 1, 3]


def test_hand_losses_and_reductions():
    logits = _hand_logits()
    label = torch.tensor([HAND_LABEL])
    expected = _hand_pixel_losses()
    per_pixel = label_relaxation_loss(
        logits, label, reduction='none', ignore_index=IGNORE)
    assert per_pixel.shape == (1, 4, 4)
    torch.testing.assert_close(
        per_pixel[0], torch.tensor(expected), rtol=1e-5, atol=1e-6)
    total = sum(map(sum, expected))
    # default avg_non_ignore=False: divide by all 16 pixels
    mean_all = LabelRelaxationLoss()(logits, label, ignore_index=IGNORE)
    assert mean_all.item() == pytest.approx(total / 16, rel=1e-5)
    mean_valid = LabelRelaxationLoss(avg_non_ignore=True)(
        logits, label, ignore_index=IGNORE)
    assert mean_valid.item() == pytest.approx(total / 15, rel=1e-5)
    summed = LabelRelaxationLoss(reduction='sum', loss_weight=0.5)(
        logits, label, ignore_index=IGNORE)
    assert summed.item() == pytest.approx(0.5 * total, rel=1e-5)
    by_factor = LabelRelaxationLoss()(
        logits, label, avg_factor=4.0, ignore_index=IGNORE)
    assert by_factor.item() == pytest.approx(total / 4, rel=1e-5)
    # per-pixel weights multiply the per-pixel losses
    weight = torch.arange(16, dtype=torch.float32).reshape(1, 4, 4) / 10
    weighted = LabelRelaxationLoss(reduction='sum')(
        logits, label, weight=weight, ignore_index=IGNORE)
    expected_w = sum(expected[i][j] * (4 * i + j) / 10 for i in range(4)
                     for j in range(4))
    assert weighted.item() == pytest.approx(expected_w, rel=1e-5)
    # border losses are below the CE of the same pixel
    ce = F.cross_entropy(logits, label, ignore_index=IGNORE, reduction='none')
    for (i, j) in HAND_SETS:
        assert per_pixel[0, i, j] < ce[0, i, j]


def test_hand_class_weight():
    """The class weight of the pixel's own label scales its loss; the mean
    divides by the summed class weights of the pixels (ignored: 0 with
    avg_non_ignore, else 1 as 255 is no class index)."""
    cw = [0.5, 2.0, 1.5, 3.0]
    logits = _hand_logits()
    label = torch.tensor([HAND_LABEL])
    expected = _hand_pixel_losses(cw)
    per_pixel = LabelRelaxationLoss(
        class_weight=cw, reduction='none')(
            logits, label, ignore_index=IGNORE)
    torch.testing.assert_close(
        per_pixel[0], torch.tensor(expected), rtol=1e-5, atol=1e-6)
    total = sum(map(sum, expected))
    weight_sum = sum(cw[y] for row in HAND_LABEL for y in row if y != X)
    mean_valid = LabelRelaxationLoss(
        class_weight=cw, avg_non_ignore=True)(
            logits, label, ignore_index=IGNORE)
    assert mean_valid.item() == pytest.approx(total / weight_sum, rel=1e-5)
    mean_all = LabelRelaxationLoss(class_weight=cw)(
        logits, label, ignore_index=IGNORE)
    assert mean_all.item() == pytest.approx(
        total / (weight_sum + 1), rel=1e-5)


def test_hand_gradient_at_border_pixel():
    """d loss / d x_c = p_c - p_c [c in N] / sum_N p at a border pixel."""
    logits = _hand_logits().double().requires_grad_()
    label = torch.tensor([HAND_LABEL])
    loss = label_relaxation_loss(
        logits, label, reduction='sum', ignore_index=IGNORE)
    loss.backward()
    vals = _hand_logits()[0].double().tolist()
    for (i, j), labels in [((1, 1), {0, 1, 2}), ((2, 3), {1, 2}),
                           ((0, 0), {0})]:
        exps = [math.exp(vals[c][i][j]) for c in range(HAND_C)]
        p = [e / sum(exps) for e in exps]
        s = sum(p[c] for c in labels)
        want = [p[c] - (p[c] / s if c in labels else 0.0)
                for c in range(HAND_C)]
        got = logits.grad[0, :, i, j].tolist()
        assert got == pytest.approx(want, abs=1e-12)
    # ignored pixel: no gradient
    assert logits.grad[0, :, 2, 2].abs().max().item() == 0.0


# --------------------------------------------------------------------------
# Equality with mmseg's CrossEntropyLoss where there are no borders
# --------------------------------------------------------------------------
def _no_border_label(generator, batch=2, h=6, w=7, num_classes=5,
                     ignore=True, ignore_index=IGNORE):
    """One label per image, plus ignored pixels (which make no borders)."""
    per_image = torch.randint(
        0, num_classes, (batch, 1, 1), generator=generator)
    label = per_image.expand(batch, h, w).clone()
    if ignore:
        mask = torch.rand(batch, h, w, generator=generator) < 0.3
        label[mask] = ignore_index
    return label


@pytest.mark.parametrize('avg_non_ignore', [False, True])
@pytest.mark.parametrize('use_weight', [False, True])
@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_equals_mmseg_ce_without_borders(avg_non_ignore, use_weight,
                                         reduction):
    from mmseg.models.losses import CrossEntropyLoss
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 6, 7, generator=g) * 3
    label = _no_border_label(g)
    assert not border_mask(label, 3, IGNORE).any()
    weight = torch.rand(2, 6, 7, generator=g) if use_weight else None
    kw = dict(avg_non_ignore=avg_non_ignore, loss_weight=0.7)
    ce = CrossEntropyLoss(**kw)
    lr = LabelRelaxationLoss(**kw)
    for avg_factor in (None, 13.0):
        if avg_factor is not None and reduction == 'sum':
            continue
        args = dict(
            weight=weight,
            avg_factor=avg_factor,
            reduction_override=reduction,
            ignore_index=IGNORE)
        want = ce(logits, label, **args)
        got = lr(logits, label, **args)
        assert got.shape == want.shape
        assert torch.equal(got, want), (got, want)
    with pytest.raises(ValueError):
        lr(logits, label, avg_factor=2.0, reduction_override='sum')


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_equals_mmseg_ce_with_class_weight(avg_non_ignore):
    from mmseg.models.losses import CrossEntropyLoss
    g = torch.Generator().manual_seed(1)
    cw = [0.3, 1.0, 2.5, 0.8, 1.7]
    logits = torch.randn(2, 5, 6, 7, generator=g) * 3
    weight = torch.rand(2, 6, 7, generator=g)
    kw = dict(avg_non_ignore=avg_non_ignore, class_weight=cw)
    ce, lr = CrossEntropyLoss(**kw), LabelRelaxationLoss(**kw)
    # (mmseg's CE indexes class_weight with every label when it computes
    # the mean divisor itself, so ignore pixels need an avg_factor there,
    # or an ignore_index that is a class index)
    label = _no_border_label(g, ignore=False)
    for w in (None, weight):
        for reduction in ('mean', 'sum', 'none'):
            want = ce(logits, label, weight=w, reduction_override=reduction,
                      ignore_index=IGNORE)
            got = lr(logits, label, weight=w, reduction_override=reduction,
                     ignore_index=IGNORE)
            assert torch.equal(got, want), (reduction, got, want)
    label = _no_border_label(g)
    want = ce(logits, label, weight=weight, avg_factor=20.0,
              ignore_index=IGNORE)
    got = lr(logits, label, weight=weight, avg_factor=20.0,
             ignore_index=IGNORE)
    assert torch.equal(got, want)
    # ignore_index that is a class index: mmseg counts class_weight[4] for
    # the ignored pixels (under avg_non_ignore=False)
    label = _no_border_label(g, num_classes=4, ignore=False)
    label[:, :2] = 4
    assert not border_mask(label, 3, 4).any()
    want = ce(logits, label, weight=weight, ignore_index=4)
    got = lr(logits, label, weight=weight, ignore_index=4)
    assert torch.equal(got, want)


def test_kernel_size_one_is_cross_entropy():
    """kernel_size=1 has no borders, so any map gives mmseg's CE."""
    from mmseg.models.losses import CrossEntropyLoss
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 6, 5, 9, generator=g)
    label = torch.randint(0, 6, (2, 5, 9), generator=g)
    label[0, 1:3] = IGNORE
    want = CrossEntropyLoss(avg_non_ignore=True)(
        logits, label, ignore_index=IGNORE)
    got = LabelRelaxationLoss(
        avg_non_ignore=True, kernel_size=1)(
            logits, label, ignore_index=IGNORE)
    assert torch.equal(got, want)
    # and with borders the relaxed loss is smaller
    relaxed = LabelRelaxationLoss(avg_non_ignore=True)(
        logits, label, ignore_index=IGNORE)
    assert relaxed < want


# --------------------------------------------------------------------------
# Gradients, ignore handling, numerics, errors
# --------------------------------------------------------------------------
def test_gradcheck_float64():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(
        2, 4, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    label = torch.randint(0, 3, (2, 4, 5), generator=g)
    label[0, 0, :3] = IGNORE
    label[1, 1:4, 1:4] = 1  # a block, so some pixels are not borders
    weight = torch.rand(2, 4, 5, generator=g, dtype=torch.float64)
    cw = torch.rand(4, generator=g, dtype=torch.float64) + 0.5

    def fn(x):
        return label_relaxation_loss(
            x,
            label,
            weight=weight,
            class_weight=cw,
            reduction='none',
            ignore_index=IGNORE)

    assert torch.autograd.gradcheck(fn, (logits, ))
    assert torch.autograd.gradcheck(
        lambda x: label_relaxation_loss(
            x, label, ignore_index=IGNORE, avg_non_ignore=True,
            kernel_size=5), (logits, ))


def _reference_losses(logits, label, kernel_size, ignore_index):
    """Brute force, dense float64 autograd reference: per-pixel losses."""
    log_p = torch.log_softmax(logits.double(), dim=1)
    n, _, h, w = logits.shape
    r = kernel_size // 2
    lab = label.tolist()
    rows = []
    for b in range(n):
        for i in range(h):
            for j in range(w):
                y = lab[b][i][j]
                if y == ignore_index:
                    rows.append(log_p.new_zeros(()))
                    continue
                labels = {
                    lab[b][ii][jj]
                    for ii in range(max(0, i - r), min(h, i + r + 1))
                    for jj in range(max(0, j - r), min(w, j + r + 1))
                } - {ignore_index}
                idx = sorted(labels)
                rows.append(-torch.logsumexp(log_p[b, idx, i, j], dim=0))
    return torch.stack(rows).reshape(n, h, w)


def test_gradients_match_float64_autograd_reference():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(
        2, 5, 7, 8, generator=g, dtype=torch.float64) * 4
    label = torch.randint(0, 3, (2, 7, 8), generator=g)
    label[:, 3:, 4:] = 4
    label[1, 0, :] = IGNORE
    # float32 values: the loss casts weights to float32, like mmseg's CE
    weight = torch.rand(2, 7, 8, generator=g).double()
    x1 = logits.clone().requires_grad_()
    x2 = logits.clone().requires_grad_()
    got = label_relaxation_loss(
        x1, label, weight=weight, reduction='sum', ignore_index=IGNORE)
    want = (_reference_losses(x2, label, 3, IGNORE) * weight).sum()
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    got.backward()
    want.backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-10, atol=1e-12)


def test_backward_twice_with_retain_graph():
    g = torch.Generator().manual_seed(8)
    logits = torch.randn(1, 4, 6, 6, generator=g, requires_grad=True)
    label = torch.randint(0, 4, (1, 6, 6), generator=g)
    loss = LabelRelaxationLoss()(logits, label, ignore_index=IGNORE)
    loss.backward(retain_graph=True)
    first = logits.grad.clone()
    loss.backward()
    torch.testing.assert_close(logits.grad, 2 * first)


def test_non_contiguous_inputs():
    g = torch.Generator().manual_seed(9)
    logits = torch.randn(2, 5, 6, 7, generator=g)
    label = torch.randint(0, 5, (2, 6, 7), generator=g)
    label[1, :2] = IGNORE
    x1 = logits.clone().requires_grad_()
    x2 = logits.clone().contiguous(
        memory_format=torch.channels_last).requires_grad_()
    l1 = label_relaxation_loss(x1, label, reduction='sum', ignore_index=IGNORE)
    l2 = label_relaxation_loss(
        x2, label.transpose(1, 2).contiguous().transpose(1, 2),
        reduction='sum', ignore_index=IGNORE)
    torch.testing.assert_close(l1, l2)
    l1.backward()
    l2.backward()
    torch.testing.assert_close(x1.grad, x2.grad)


def test_ignored_neighbours_make_no_border():
    label = torch.full((1, 5, 5), 2)
    label[0, ::2, ::2] = IGNORE  # a grid of ignored pixels
    assert not border_mask(label, 3, IGNORE).any()
    (b, _, _), sets = border_label_mask(label, 3, 3, IGNORE)
    assert b.numel() == 0 and sets.shape == (0, 3)
    logits = torch.randn(1, 3, 5, 5)
    got = label_relaxation_loss(
        logits, label, reduction='none', ignore_index=IGNORE)
    want = F.cross_entropy(
        logits, label, ignore_index=IGNORE, reduction='none')
    assert torch.equal(got, want)
    assert (got[label == IGNORE] == 0).all()
    # ignore_index=-100 (mmseg's default) works the same
    label2 = label.masked_fill(label == IGNORE, -100)
    assert not border_mask(label2, 3, -100).any()


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_all_ignored_batch_gives_zero_and_finite_gradient(avg_non_ignore):
    logits = (torch.randn(2, 4, 6, 6) * 50).requires_grad_()
    label = torch.full((2, 6, 6), IGNORE)
    loss = LabelRelaxationLoss(avg_non_ignore=avg_non_ignore)(
        logits, label, ignore_index=IGNORE)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert (logits.grad == 0).all()
    cw_loss = LabelRelaxationLoss(
        avg_non_ignore=avg_non_ignore, class_weight=[1.0, 2.0, 3.0, 4.0])(
            logits, label, ignore_index=IGNORE)
    assert cw_loss.item() == 0.0


@pytest.mark.parametrize('bad', [4, 7, -1])
def test_bad_label_raises(bad):
    logits = torch.randn(1, 4, 3, 3)
    label = torch.zeros(1, 3, 3, dtype=torch.long)
    label[0, 1, 1] = bad
    label[0, 0, 0] = IGNORE
    with pytest.raises(ValueError) as err:
        LabelRelaxationLoss()(logits, label, ignore_index=IGNORE)
    assert f'[{bad}]' in str(err.value)
    assert 'num_classes=4' in str(err.value)
    with pytest.raises(ValueError, match='num_classes=4'):
        border_label_mask(label, 4, 3, IGNORE)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='kernel_size'):
        LabelRelaxationLoss(kernel_size=2)
    with pytest.raises(ValueError, match='expects pred'):
        label_relaxation_loss(
            torch.randn(1, 3, 4, 4), torch.zeros(1, 4, 5, dtype=torch.long))


def test_finite_under_bf16_autocast_and_half_inputs():
    g = torch.Generator().manual_seed(5)
    feats = torch.randn(2, 8, 16, 16, generator=g)
    conv = torch.nn.Conv2d(8, 6, 1)
    with torch.no_grad():
        conv.weight.mul_(200)  # large logits
    label = torch.randint(0, 6, (2, 16, 16), generator=g)
    label[:, 4:12, 4:12] = 3
    label[0, :2] = IGNORE
    loss_fn = LabelRelaxationLoss(avg_non_ignore=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        logits = conv(feats)
        assert logits.dtype == torch.bfloat16
        loss = loss_fn(logits, label, ignore_index=IGNORE)
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    assert torch.isfinite(conv.weight.grad).all()

    # fp16 logits (no autocast), with extreme values
    half = (torch.randn(2, 6, 16, 16, generator=g) * 2e4).clamp(
        -6e4, 6e4).half()
    half.requires_grad_()
    loss = loss_fn(half, label, ignore_index=IGNORE)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert half.grad.dtype == torch.float16
    assert torch.isfinite(half.grad).all()
    per_pixel = loss_fn(
        half.detach(), label, ignore_index=IGNORE, reduction_override='none')
    assert torch.isfinite(per_pixel).all() and (per_pixel >= 0).all()


# --------------------------------------------------------------------------
# Inside an mmseg decode head
# --------------------------------------------------------------------------
def _samples(labels):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    samples = []
    for lab in labels:
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=lab[None])
        sample.set_metainfo(
            dict(img_shape=tuple(lab.shape), pad_shape=tuple(lab.shape)))
        samples.append(sample)
    return samples


def _head(**kwargs):
    from mmseg.registry import MODELS
    cfg = dict(
        type='FCNHead',
        in_channels=8,
        channels=8,
        num_convs=1,
        num_classes=5,
        loss_decode=[
            dict(type='CrossEntropyLoss', loss_weight=1.0),
            dict(
                type='LabelRelaxationLoss', loss_weight=1.0,
                loss_name='loss_lr')
        ])
    cfg.update(kwargs)
    return MODELS.build(cfg)


def _head_inputs(seed=6):
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randn(2, 8, 8, 8, generator=g)]
    labels = torch.randint(0, 5, (2, 4, 4), generator=g)
    labels = labels.repeat_interleave(8, 1).repeat_interleave(8, 2)
    labels[0, :3] = IGNORE
    return inputs, labels


@pytest.mark.parametrize('sampler', [
    None,
    dict(type='OHEMPixelSampler', thresh=0.6, min_kept=200),
    dict(type='OHEMPixelSampler', min_kept=300),
])
def test_in_fcn_head(sampler):
    from mmseg.models.utils import resize
    torch.manual_seed(0)
    head = _head(sampler=sampler)
    head.train()
    inputs, labels = _head_inputs()
    losses = head.loss(inputs, _samples(labels), train_cfg=dict())
    assert set(losses) == {'loss_ce', 'loss_lr', 'acc_seg'}
    assert torch.isfinite(losses['loss_lr']) and losses['loss_lr'] > 0
    # with borders the relaxed loss stays below CE
    assert losses['loss_lr'] < losses['loss_ce']
    (losses['loss_ce'] + losses['loss_lr']).backward()
    assert torch.isfinite(head.conv_seg.weight.grad).all()
    assert head.conv_seg.weight.grad.abs().sum() > 0

    # the same value as calling the loss by hand on the upsampled logits
    head.eval()  # no dropout, same forward
    with torch.no_grad():
        logits = resize(
            head.forward(inputs), size=labels.shape[1:], mode='bilinear')
        weight = None
        if head.sampler is not None:
            weight = head.sampler.sample(logits, labels[:, None])
            assert weight.sum() > 0
        want = LabelRelaxationLoss()(
            logits, labels, weight=weight, ignore_index=IGNORE)
        got = head.loss_by_feat(head.forward(inputs),
                                _samples(labels))['loss_lr']
    torch.testing.assert_close(got, want)


def test_in_fcn_head_alone_with_class_weight():
    head = _head(
        loss_decode=dict(
            type='LabelRelaxationLoss',
            class_weight=[1.0, 0.5, 2.0, 1.0, 1.0],
            avg_non_ignore=True,
            kernel_size=5))
    inputs, labels = _head_inputs(7)
    losses = head.loss(inputs, _samples(labels), train_cfg=dict())
    assert set(losses) == {'loss_lr', 'acc_seg'}
    assert torch.isfinite(losses['loss_lr'])
    losses['loss_lr'].backward()
    assert torch.isfinite(head.conv_seg.weight.grad).all()


# --------------------------------------------------------------------------
# Property-based tests
# --------------------------------------------------------------------------
@st.composite
def label_maps(draw):
    n = draw(st.integers(1, 2))
    c = draw(st.integers(2, 6))
    h = draw(st.integers(1, 8))
    w = draw(st.integers(1, 8))
    kernel_size = draw(st.sampled_from([1, 3, 5]))
    ignore_index = draw(st.sampled_from([IGNORE, -100]))
    # blocky maps (few borders) or noisy ones (many)
    block = draw(st.integers(1, 4))
    hb, wb = -(-h // block), -(-w // block)
    values = st.one_of(
        st.integers(0, c - 1), st.just(ignore_index)) if draw(
            st.booleans()) else st.integers(0, c - 1)
    grid = draw(
        st.lists(
            st.lists(
                st.lists(values, min_size=wb, max_size=wb),
                min_size=hb,
                max_size=hb),
            min_size=n,
            max_size=n))
    label = torch.tensor(grid, dtype=torch.long)
    label = label.repeat_interleave(block, 1).repeat_interleave(block, 2)
    label = label[:, :h, :w].contiguous()
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.1, 3.0, 30.0]))
    logits = torch.randn(
        n, c, h, w, generator=torch.Generator().manual_seed(seed)) * scale
    return logits, label, kernel_size, ignore_index


@settings(max_examples=30, deadline=None)
@given(label_maps())
def test_property_matches_reference(case):
    logits, label, kernel_size, ignore_index = case
    got = label_relaxation_loss(
        logits.double(),
        label,
        reduction='none',
        ignore_index=ignore_index,
        kernel_size=kernel_size)
    want = _reference_losses(logits, label, kernel_size, ignore_index)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(label_maps())
def test_property_finite_nonnegative_and_bounded_by_ce(case):
    logits, label, kernel_size, ignore_index = case
    logits.requires_grad_()
    per_pixel = label_relaxation_loss(
        logits,
        label,
        reduction='none',
        ignore_index=ignore_index,
        kernel_size=kernel_size)
    ce = F.cross_entropy(
        logits, label, ignore_index=ignore_index, reduction='none')
    assert torch.isfinite(per_pixel).all()
    assert (per_pixel >= 0).all()
    border = border_mask(label, kernel_size, ignore_index)
    # equals CE off the borders (bitwise), at most CE on them
    assert torch.equal(per_pixel[~border], ce[~border])
    assert (per_pixel[border] <= ce[border] * (1 + 1e-6) + 1e-6).all()
    assert (per_pixel[label == ignore_index] == 0).all()
    per_pixel.sum().backward()
    assert torch.isfinite(logits.grad).all()


@settings(max_examples=30, deadline=None)
@given(label_maps())
def test_property_no_border_maps_equal_mmseg_ce(case):
    from mmseg.models.losses import CrossEntropyLoss
    logits, label, kernel_size, ignore_index = case
    # remove the borders: one label per image (ignored pixels stay)
    first = label.clamp(0, logits.shape[1] - 1)[:, :1, :1]
    label = torch.where(label == ignore_index, label, first.expand_as(label))
    assert not border_mask(label, kernel_size, ignore_index).any()
    for avg_non_ignore in (False, True):
        want = CrossEntropyLoss(avg_non_ignore=avg_non_ignore)(
            logits, label, ignore_index=ignore_index)
        got = LabelRelaxationLoss(
            avg_non_ignore=avg_non_ignore, kernel_size=kernel_size)(
                logits, label, ignore_index=ignore_index)
        assert torch.equal(got, want)


@settings(max_examples=30, deadline=None)
@given(label_maps())
def test_property_border_set_equals_one_hot_max_pool(case):
    """The paper's construction: one-hot labels, stride-1 max-pool; a border
    pixel has more than one label in its dilated (multi-hot) vector."""
    logits, label, kernel_size, ignore_index = case
    num_classes = logits.shape[1]
    valid = label != ignore_index
    one_hot = F.one_hot(label.clamp(0, num_classes - 1), num_classes)
    one_hot = (one_hot * valid[..., None]).permute(0, 3, 1, 2).float()
    multi_hot = F.max_pool2d(
        one_hot, kernel_size, stride=1, padding=kernel_size // 2) > 0
    want = valid & (multi_hot.sum(1) > 1)
    assert torch.equal(border_mask(label, kernel_size, ignore_index), want)
    (b, i, j), sets = border_label_mask(label, num_classes, kernel_size,
                                        ignore_index)
    assert torch.equal(sets, multi_hot.permute(0, 2, 3, 1)[want])
    assert torch.equal(torch.stack((b, i, j), 1), want.nonzero())


def _brute_force_border(label, kernel_size, ignore_index):
    """Pixel by pixel: not ignored, and more than one label among the
    non-ignored in-image pixels of its window."""
    r = kernel_size // 2
    want = torch.zeros(label.shape, dtype=torch.bool)
    for b, i, j in torch.ones(label.shape).nonzero().tolist():
        window = label[b, max(i - r, 0):i + r + 1, max(j - r, 0):j + r + 1]
        labels = set(window[window != ignore_index].tolist())
        want[b, i, j] = label[b, i, j] != ignore_index and len(labels) > 1
    return want


@pytest.mark.parametrize('kernel_size', [3, 5, 7])
def test_border_at_maps_no_wider_than_the_window(kernel_size):
    """Maps of 1-4 pixels a side, smaller than or about the window: the
    window reaches every pixel it covers (here the far corner holds another
    label, and a map with an ignored pixel between two labels)."""
    for h in range(1, 5):
        for w in range(1, 5):
            label = torch.zeros(2, h, w, dtype=torch.long)
            label[0, -1, -1] = 1
            label[1, :, -1] = 2
            label[1, 0, 0] = IGNORE
            want = _brute_force_border(label, kernel_size, IGNORE)
            got = border_mask(label, kernel_size, IGNORE, num_classes=3)
            assert torch.equal(got, want), (h, w)
            (b, i, j), sets = border_label_mask(label, 3, kernel_size,
                                                IGNORE)
            assert torch.equal(torch.stack((b, i, j), 1), want.nonzero())
    # written out: 1 x 2 and 2 x 1 maps of two labels are all border
    assert border_mask(torch.tensor([[[0, 1]]]), kernel_size).all()
    assert border_mask(torch.tensor([[[0], [1]]]), kernel_size).all()
    # a 1 x 4 map, 3 x 3 window: only the pixels next to the change
    if kernel_size == 3:
        assert border_mask(torch.tensor([[[0, 0, 1, 1]]]), 3).tolist() == [
            [[False, True, True, False]]]
