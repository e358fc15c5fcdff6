# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Property tests of the public entry points on random valid inputs.

The label-relaxation loss function itself has its property tests in
tests/test_label_relaxation_loss.py (random logits/labels/ignore masks:
finite, non-negative, equal to CE off the borders); here the head and the
whole segmentor (ResNet-18 + RGPHead + LabelRelaxationLoss) get random
input sizes, odd ones included.
"""
import functools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import rgpnet_mmseg  # noqa: F401  (registers RGPHead & co.)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from .conftest import CONFIG_DIR
from .test_rgp_head import equations_1_to_3

IGNORE = 255
NUM_CLASSES = 19
SMALL = (8, 16, 16, 32)  # narrow levels: the wiring, not the width, is fuzzed


@pytest.fixture(autouse=True)
def one_thread():
    """Many tiny forward passes: one intra-op thread is several times
    faster than two on a shared 2-core machine (no OpenMP spinning)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def fuzz(max_examples: int) -> settings:
    """Reproducible (derandomized) runs without a time limit per example
    (the machine is shared and slow)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow])


def halve(size: int, times: int, rounding: str) -> int:
    """``size`` halved ``times`` times, as a strided conv does it: ``ceil``
    for ResNet's 3x3/stride-2/padding-1 convs and max-pool, ``floor`` for
    backbones with unpadded 2x2 strides."""
    for _ in range(times):
        size = -(-size // 2) if rounding == 'ceil' else size // 2
    return size


@functools.lru_cache(maxsize=None)
def small_head(use_downsample: bool):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='RGPHead',
            in_channels=SMALL,
            channels=SMALL[0],
            adaptor_channels=SMALL,
            use_downsample=use_downsample,
            num_classes=5,
            norm_cfg=dict(type='BN', requires_grad=True)))


@fuzz(40)
@given(
    h=st.integers(1, 200),
    w=st.integers(1, 200),
    rounding=st.sampled_from(['ceil', 'floor']),
    batch=st.integers(2, 3),
    use_downsample=st.booleans())
def test_head_aligns_levels_of_any_input_size(h, w, rounding, batch,
                                              use_downsample):
    """Features as a backbone gives them for an image of h x w (levels
    1/4 .. 1/32, ceil- or floor-halved: sizes that do not halve exactly):
    the output is eq. 1-3 with the levels aligned by cropping/zero-padding
    (tests/test_rgp_head.py's reference), has the 1/4 level's size and
    finite values and gradients."""
    sizes = [(halve(h, k, rounding), halve(w, k, rounding))
             for k in range(2, 6)]
    assume(min(min(s) for s in sizes) >= 1)  # floor-halving of tiny images
    head = small_head(use_downsample).train()
    head.zero_grad()
    g = torch.Generator().manual_seed(h * 1000 + w)
    feats = [
        torch.randn(batch, c, *s, generator=g).requires_grad_()
        for c, s in zip(SMALL, sizes)
    ]
    out = head(feats)
    assert out.shape == (batch, 5, *sizes[0])
    assert torch.isfinite(out).all()
    with torch.no_grad():  # training-mode BN: batch statistics, as above
        expected = equations_1_to_3(head, feats, use_downsample)
    torch.testing.assert_close(out.detach(), expected, rtol=1e-4, atol=1e-4)
    out.square().mean().backward()
    for f in feats:
        assert torch.isfinite(f.grad).all()
    # every encoder level feeds the output
    assert all(f.grad.abs().sum() > 0 for f in feats)


@functools.lru_cache(maxsize=None)
def segmentor():
    """RGPNet-R18 (the progressive-resize + label-relaxation demo config,
    plain BN, from scratch)."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_pr-lr_demo.py'))
    assert cfg.model.decode_head.loss_decode.type == 'LabelRelaxationLoss'
    torch.manual_seed(0)
    return MODELS.build(cfg.model).train()


@st.composite
def labelled_batches(draw, max_size=80, one_class=False):
    """(normalised images, data samples) of a random size, with blocky
    random labels, optionally a single class per image, and random ignored
    regions. Batches of 2: BN in training mode needs more than one value
    per channel at the 1/32 level of a tiny image."""
    n = 2
    h, w = draw(st.integers(8, max_size)), draw(st.integers(8, max_size))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, h, w, generator=g)  # normalised images
    block = draw(st.sampled_from([1, 4, 16]))
    coarse = torch.randint(0, NUM_CLASSES, (n, 1, -(-h // block),
                                            -(-w // block)), generator=g)
    if one_class:
        coarse = coarse[:, :, :1, :1].expand_as(coarse)
    label = F.interpolate(coarse.float(), scale_factor=block)[..., :h, :w]
    label = label.long()
    if draw(st.booleans()):
        ignored = torch.rand(n, 1, h, w, generator=g) < draw(
            st.sampled_from([0.1, 0.5, 1.0]))
        label[ignored] = IGNORE
    samples = []
    for i in range(n):
        sample = SegDataSample(
            metainfo=dict(img_shape=(h, w), pad_shape=(h, w),
                          ori_shape=(h, w)))
        sample.gt_sem_seg = PixelData(data=label[i])
        samples.append(sample)
    return images, samples


@fuzz(16)
@given(batch=labelled_batches())
def test_segmentor_loss_is_finite_for_any_image_size(batch):
    """The whole model's ``loss()`` (ResNet levels halve odd sizes with
    ceil, the head aligns them, the logits are resized back to the label
    size) is finite and non-negative with finite gradients, whatever the
    image size and the share of ignored pixels (all of them included)."""
    model = segmentor()
    model.zero_grad()
    images, samples = batch
    losses = model.loss(images, samples)
    assert set(losses) == {'decode.loss_lr', 'decode.acc_seg'}
    loss = losses['decode.loss_lr']
    assert torch.isfinite(loss) and loss >= 0
    loss.backward()
    for name, param in model.named_parameters():
        if param.grad is not None:
            assert torch.isfinite(param.grad).all(), name


@fuzz(6)
@given(batch=labelled_batches(max_size=48, one_class=True))
def test_segmentor_lr_loss_equals_ce_without_borders(batch):
    """With one class per image (no border pixels) the model's
    label-relaxation loss is mmseg's cross-entropy."""
    model = segmentor()
    images, samples = batch
    head = model.decode_head
    relaxed = head.loss_decode
    try:
        with torch.no_grad():
            lr = model.loss(images, samples)['decode.loss_lr']
            head.loss_decode = MODELS.build(
                dict(type='CrossEntropyLoss', loss_name='loss_lr'))
            ce = model.loss(images, samples)['decode.loss_lr']
    finally:
        head.loss_decode = relaxed
    torch.testing.assert_close(lr, ce, rtol=1e-6, atol=1e-7)
