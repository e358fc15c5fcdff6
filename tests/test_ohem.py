# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""OHEM averaged over the pixels it keeps (``KeptPixelMeanLoss``), on the
paper config's head, against the cross-entropy (or eq. 4) written out here
and divided by the number of pixels mmseg's ``OHEMPixelSampler`` keeps;
ignored and padded pixels never count."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from rgpnet_mmseg.utils.cpu_config import without_syncbn_and_pretrained
from .conftest import CONFIG_DIR

IGNORE = 255
PAPER_CFG = CONFIG_DIR / 'rgpnet_r18_cityscapes.py'
CE_CFG = (CONFIG_DIR / 'rgpnet' /
          'rgpnet_r18-d32_2xb6-ce-80k_cityscapes-1024x1024.py')


def paper_model(path=PAPER_CFG, **head):
    """The config's segmentor on the CPU (BN, no pretrained weights), its
    decode head's keys replaced by ``head``; pads batches to 64 x 96."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(path))
    cfg.model.data_preprocessor.size = (64, 96)
    for key, value in head.items():
        cfg.model.decode_head[key] = value
    torch.manual_seed(0)
    return MODELS.build(without_syncbn_and_pretrained(cfg.model))


def batch(n=2, c=19, h=24, w=32, seed=0):
    """Logits that are confident on ~3/4 of the pixels, labels with an
    ignored block and a padded band (both ``IGNORE``) and their samples."""
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, c, (n, h, w), generator=g)
    label[:, :4, :6] = IGNORE  # e.g. the ego vehicle
    label[1, :, w - 5:] = IGNORE  # padding of a narrower image
    logits = torch.randn(n, c, h, w, generator=g)
    sure = torch.rand(n, h, w, generator=g) < 0.75
    logits += 6.0 * sure[:, None] * F.one_hot(label.clamp(max=c - 1),
                                              c).permute(0, 3, 1, 2)
    samples = []
    for i, lab in enumerate(label):
        sample = SegDataSample(gt_sem_seg=PixelData(data=lab[None]))
        width = w - 5 if i == 1 else w
        sample.set_metainfo(dict(img_shape=(h, width), pad_shape=(h, w)))
        samples.append(sample)
    return logits.requires_grad_(), label, samples


def kept_by_ohem(logits, label, thresh, min_kept):
    """mmseg's OHEMPixelSampler rule, written out: among the non-ignored
    pixels keep those whose probability of the true class is below
    max(thresh, the (min_kept * N)-th smallest such probability)."""
    valid = label != IGNORE
    prob = logits.softmax(1).gather(1, label.clamp(max=logits.shape[1] - 1)
                                    [:, None])[:, 0]
    ranked = prob[valid].sort().values
    kth = ranked[min(min_kept * label.shape[0], ranked.numel() - 1)]
    return valid & (prob < max(thresh, kth.item()))


def eq4(logits, label, k=3):
    """Per-pixel loss of eq. 4: -log sum of p_c over the labels c in the
    k x k window (ignored pixels not counted, window cut at the edges)
    where it holds more than one label, else -log p_y; 0 where ignored."""
    c = logits.shape[1]
    valid = label != IGNORE
    onehot = F.one_hot(label.masked_fill(~valid, c), c + 1)[..., :c]
    present = F.max_pool2d(onehot.permute(0, 3, 1, 2).float(), k, 1, k // 2)
    border = valid & (present.sum(1) > 1)
    prob = logits.softmax(1)
    ce = F.cross_entropy(logits, label, ignore_index=IGNORE, reduction='none')
    relaxed = -(prob * present).sum(1).log()
    return torch.where(border, relaxed, ce)


@pytest.mark.parametrize('min_kept,num_kept', [(5000, 1367), (400, 800),
                                               (40, 347)])
def test_paper_head_ce_is_the_mean_over_kept_pixels(min_kept, num_kept):
    """Of the 1368 valid pixels, M 5000 (the paper's) keeps all but the
    most certain one (mmseg's rule on a batch below M); M 400 keeps 2 x 400
    (the floor); M 40 those below theta. Only kept pixels get a gradient."""
    cfg = Config.fromfile(str(PAPER_CFG)).model.decode_head
    assert cfg.loss_decode == dict(
        type='KeptPixelMeanLoss',
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0))
    assert (cfg.sampler.thresh, cfg.sampler.min_kept) == (0.6, 5000)
    head = paper_model().decode_head
    head.sampler.min_kept = min_kept
    logits, label, samples = batch()
    kept = kept_by_ohem(logits.detach(), label, 0.6, min_kept)
    assert ((label != IGNORE).sum(), kept.sum()) == (1368, num_kept)
    ce = F.cross_entropy(logits, label, ignore_index=IGNORE, reduction='none')
    want = (ce * kept).sum() / kept.sum()
    got = head.loss_by_feat(logits, samples)['loss_ce']
    torch.testing.assert_close(got, want)
    got.backward()
    moved = logits.grad.abs().sum(1) > 0
    assert torch.isfinite(logits.grad).all() and torch.equal(moved, kept)


def test_mmseg_convention_stays_selectable():
    """Plain CrossEntropyLoss: mmseg's value, divided by every pixel,
    ignored and padded ones too."""
    head = paper_model(loss_decode=dict(
        type='CrossEntropyLoss', loss_weight=1.0)).decode_head
    logits, label, samples = batch(seed=1)
    kept = kept_by_ohem(logits.detach(), label, 0.6, 5000)
    ce = F.cross_entropy(logits, label, ignore_index=IGNORE, reduction='none')
    got = head.loss_by_feat(logits, samples)['loss_ce']
    torch.testing.assert_close(got, (ce * kept).sum() / label.numel())


def test_label_relaxation_and_loss_lists():
    """KeptPixelMeanLoss around LabelRelaxationLoss (eq. 4), beside a
    wrapped CE in a loss list: each is its own mean over the kept
    pixels."""
    head = paper_model(loss_decode=[
        dict(type='KeptPixelMeanLoss',
             loss=dict(type='LabelRelaxationLoss', loss_weight=1.0)),
        dict(type='KeptPixelMeanLoss',
             loss=dict(type='CrossEntropyLoss', loss_weight=0.5)),
    ]).decode_head
    head.sampler.min_kept = 40
    logits, label, samples = batch(seed=2)
    kept = kept_by_ohem(logits.detach(), label, 0.6, 40)
    ce = F.cross_entropy(logits, label, ignore_index=IGNORE, reduction='none')
    relaxed = eq4(logits, label)
    assert (relaxed < ce - 1e-3)[kept].any()  # borders among kept pixels
    losses = head.loss_by_feat(logits, samples)
    torch.testing.assert_close(losses['loss_lr'],
                               (relaxed * kept).sum() / kept.sum())
    torch.testing.assert_close(losses['loss_ce'],
                               0.5 * (ce * kept).sum() / kept.sum())
    (losses['loss_lr'] + losses['loss_ce']).backward()
    assert torch.isfinite(logits.grad).all()
    assert torch.equal(logits.grad.abs().sum(1) > 0, kept)


def test_ohem_by_loss_ranking_passes_through():
    """OHEM without thresh ranks the pixels by the loss itself (reduction
    'none' through the wrapper) and keeps the min_kept * N hardest."""
    head = paper_model().decode_head
    head.sampler.thresh, head.sampler.min_kept = None, 100
    logits, label, samples = batch(seed=3)
    ce = F.cross_entropy(logits, label, ignore_index=IGNORE, reduction='none')
    hardest = ce.detach()[label != IGNORE].sort(descending=True).values[:200]
    got = head.loss_by_feat(logits, samples)['loss_ce']
    torch.testing.assert_close(got, hardest.mean())


def test_ce_ablation_without_ohem_averages_non_ignored_pixels():
    """Table 7's CE rows (no sampler): the mean over non-ignored pixels."""
    head = paper_model(CE_CFG).decode_head
    assert head.sampler is None
    logits, label, samples = batch(seed=4)
    got = head.loss_by_feat(logits, samples)['loss_ce']
    torch.testing.assert_close(
        got, F.cross_entropy(logits, label, ignore_index=IGNORE))


def test_segmentor_padding_never_counts():
    """The whole paper model: the preprocessor pads two smaller images to
    64 x 96 with label 255; the decode loss is the CE of the head's
    (upsampled) logits over the kept pixels, none of them padding."""
    model = paper_model().train()
    model.decode_head.sampler.min_kept = 200
    g = torch.Generator().manual_seed(5)
    inputs, samples = [], []
    for h, w in ((64, 80), (48, 96)):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g).float())
        lab = torch.randint(0, 19, (1, h, w), generator=g)
        samples.append(SegDataSample(gt_sem_seg=PixelData(data=lab)))
    data = model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), training=True)
    label = torch.stack([s.gt_sem_seg.data[0] for s in data['data_samples']])
    assert (label == IGNORE).sum() == 64 * 16 + 16 * 96  # the padding
    with torch.no_grad():
        logits = F.interpolate(
            model.decode_head(model.extract_feat(data['inputs'])),
            label.shape[1:], mode='bilinear')
    kept = kept_by_ohem(logits, label, 0.6, 200)
    ce = F.cross_entropy(logits, label, ignore_index=IGNORE, reduction='none')
    losses = model.loss(data['inputs'], data['data_samples'])
    torch.testing.assert_close(losses['decode.loss_ce'],
                               (ce * kept).sum() / kept.sum())
    losses['decode.loss_ce'].backward()
    assert torch.isfinite(model.decode_head.conv_seg.weight.grad).all()
