# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""``rgpnet_mmseg.deploy.postprocess``: a deployed model's output to labels
at each image's size. Expected values come from mmseg's own
``BaseSegmentor.postprocess_result`` on the same logits (or from
``F.interpolate``); labels must agree on >= 99.999 % of pixels (float ties
aside), on logits with real class boundaries (smooth random fields)."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmseg.models.segmentors import BaseSegmentor
from mmseg.structures import SegDataSample

from rgpnet_mmseg.deploy.postprocess import postprocess, resized_labels

# (ori_shape, logits h x w, padding_size [left, right, top, bottom])
CASES = [((97, 203), (64, 128), [0, 2, 0, 1]),       # up
         ((97, 203), (160, 320), [0, 10, 0, 6]),     # down
         ((333, 777), (128, 256), [3, 2, 4, 1]),     # all four sides
         ((1080, 1920), (128, 240), [0, 12, 0, 0])]  # demo 1080p frame


def field(n: int, c: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Smooth random logits (``n x c x h x w``): large class regions with
    finer detail, so they have class boundaries at several scales."""
    g = torch.Generator().manual_seed(seed)
    return sum(a * F.interpolate(
        torch.randn(n, c, max(2, h // s), max(2, w // s), generator=g),
        (h, w), mode='bicubic', align_corners=False)
        for s, a in ((40, 3.0), (12, 1.0), (3, 0.2)))


def samples(metas: list) -> list:
    return [SegDataSample(metainfo=m) for m in metas]


def mmseg_result(logits, metas, align_corners, threshold=0.3) -> list:
    head = SimpleNamespace(align_corners=align_corners,
                           decode_head=SimpleNamespace(threshold=threshold))
    return BaseSegmentor.postprocess_result(head, logits.clone(),
                                            samples(metas))


def assert_labels_agree(out, ref, rate=0.99999):
    assert out.shape == ref.shape and out.dtype == torch.long, \
        (out.shape, ref.shape, out.dtype)
    equal = (out == ref).double().mean().item()
    assert equal >= rate, (f'{equal:.6%} equal, '
                           f'{int((out != ref).sum())} pixels differ')


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('ori, hw, padding', CASES)
def test_labels_equal_mmseg(ori, hw, padding, align_corners):
    logits = field(2, 19, *hw, seed=sum(ori))
    metas = [dict(ori_shape=ori, padding_size=padding),
             dict(ori_shape=(ori[0] + 5, ori[1] - 7), padding_size=[0] * 4)]
    ref = mmseg_result(logits, metas, align_corners)
    out = postprocess(logits, samples(metas), align_corners)
    for o, r in zip(out, ref):
        assert 'seg_logits' not in o
        assert_labels_agree(o.pred_sem_seg.data, r.pred_sem_seg.data)


@pytest.mark.parametrize('direction', ['horizontal', 'vertical'])
def test_flip_and_img_padding_size(direction):
    logits = field(1, 19, 64, 96, seed=3)
    metas = [dict(ori_shape=(150, 211), padding_size=[0] * 4,
                  img_padding_size=[1, 3, 2, 0], flip=True,
                  flip_direction=direction)]
    ref = mmseg_result(logits, metas, False)[0].pred_sem_seg.data
    out = postprocess(logits, samples(metas), False)[0].pred_sem_seg.data
    assert_labels_agree(out, ref)


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('hw, size', [
    ((2, 3), (50, 71)), ((1, 40), (7, 90)), ((33, 45), (33, 45)),
    ((40, 60), (13, 200)), ((5, 5), (1, 1))])
def test_resized_labels_equal_interpolate(hw, size, align_corners):
    logits = field(1, 7, *hw, seed=hw[0])[0]
    ref = F.interpolate(logits[None], size, mode='bilinear',
                        align_corners=align_corners)[0].argmax(0)
    assert_labels_agree(resized_labels(logits, size, align_corners), ref)
    many = field(1, 130, *hw, seed=1)[0]  # > 127 classes: int32 ranks
    ref = F.interpolate(many[None], size, mode='bilinear',
                        align_corners=align_corners)[0].argmax(0)
    assert_labels_agree(resized_labels(many, size, align_corners), ref)


def test_with_logits_is_mmseg():
    logits = field(1, 19, 64, 128, seed=5)
    metas = [dict(ori_shape=(97, 203), padding_size=[0, 2, 0, 1])]
    ref = mmseg_result(logits, metas, False)[0]
    out = postprocess(logits, samples(metas), False, with_logits=True)[0]
    assert torch.equal(out.seg_logits.data, ref.seg_logits.data)
    assert torch.equal(out.pred_sem_seg.data, ref.pred_sem_seg.data)
    one = field(1, 1, 32, 48, seed=6)  # one channel: sigmoid > threshold
    ref = mmseg_result(one, metas, True, threshold=0.6)[0]
    out = postprocess(one, samples(metas), True, threshold=0.6)[0]
    assert torch.equal(out.pred_sem_seg.data, ref.pred_sem_seg.data)


def nearest(labels: np.ndarray, size) -> np.ndarray:
    """PyTorch's ``mode='nearest'``: source ``floor(dst * in / out)`` in
    float32, written out independently in numpy."""
    idx = [np.minimum(np.floor(np.arange(o, dtype=np.float32) *
                               np.float32(i / o)).astype(int), i - 1)
           for i, o in zip(labels.shape, size)]
    return labels[idx[0]][:, idx[1]]


@pytest.mark.parametrize('squeeze', [False, True])
def test_label_outputs_resized_nearest(squeeze):
    labels = field(2, 19, 64, 128, seed=7).argmax(1, keepdim=True)
    metas = [dict(ori_shape=(97, 203), padding_size=[0, 2, 0, 1]),
             dict(ori_shape=(333, 777), padding_size=[3, 2, 4, 1])]
    out = postprocess(labels[:, 0] if squeeze else labels, samples(metas),
                      False)
    for o, lab, m in zip(out, labels[:, 0].numpy(), metas):
        left, right, top, bottom = m['padding_size']
        ref = nearest(lab[top:64 - bottom, left:128 - right], m['ori_shape'])
        assert o.pred_sem_seg.data.dtype == torch.long
        np.testing.assert_array_equal(o.pred_sem_seg.data[0].numpy(), ref)
