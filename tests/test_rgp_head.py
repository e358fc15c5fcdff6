# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Behaviour of RGPHead: the adaptor/decoder wiring of paper eq. 1-3."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmseg.registry import MODELS
from rgpnet_mmseg.models.decode_heads import RGPHead
from rgpnet_mmseg.models.decode_heads.rgp_head import (SharedResBlock,
                                                       match_size)
from .conftest import CONFIG_DIR, randomize_bn

BN = dict(type='BN', requires_grad=True)
R18_CHANNELS = (64, 128, 256, 512)
R101_CHANNELS = (256, 512, 1024, 2048)


def make_head(**kwargs) -> RGPHead:
    cfg = dict(
        type='RGPHead',
        in_channels=R18_CHANNELS,
        channels=64,
        num_classes=5,
        norm_cfg=BN)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def encoder_feats(size=(64, 96), channels=R18_CHANNELS, batch=2, seed=0):
    """Features as a ceil-halving backbone gives them for an image of
    ``size`` (strides 4, 8, 16, 32)."""
    g = torch.Generator().manual_seed(seed)
    h, w = size
    feats = []
    for i, c in enumerate(channels):
        s = 2**(i + 2)
        feats.append(
            torch.randn(batch, c, -(-h // s), -(-w // s), generator=g))
    return feats


@pytest.mark.parametrize('size', [(64, 96), (65, 97), (100, 37), (32, 32)])
def test_output_shape_follows_the_quarter_level(size):
    head = make_head().eval()
    feats = encoder_feats(size)
    out = head(feats)
    assert out.shape == (2, 5, *feats[0].shape[-2:])
    assert torch.isfinite(out).all()


def test_forward_is_equation_1_to_3():
    """Recompute the head by hand from its own modules, deepest first."""
    torch.manual_seed(0)
    head = make_head().eval()
    e = encoder_feats((96, 64), seed=1)
    t = [head.transfers[s](e[s]) for s in range(4)]
    d3 = head.decoders[3](t[3] + head.downsamples[2](t[2]))
    d2 = head.decoders[2](t[2] + head.downsamples[1](t[1]) +
                          head.upsamples[2](d3))
    d1 = head.decoders[1](t[1] + head.downsamples[0](t[0]) +
                          head.upsamples[1](d2))
    d0 = head.decoders[0](t[0] + head.upsamples[0](d1))
    expected = head.conv_seg(d0)
    torch.testing.assert_close(head(e), expected)


def halved_sizes(h: int, w: int, rounding: str):
    """(h, w) of the levels 1/4 .. 1/32 of an h x w image whose backbone
    halves with ``ceil`` (ResNet: 3x3/stride-2/padding-1 convs) or with
    ``floor`` (unpadded 2x2 strides)."""
    sizes = []
    for _ in range(5):
        h, w = ((-(-h // 2), -(-w // 2)) if rounding == 'ceil' else
                (h // 2, w // 2))
        sizes.append((h, w))
    return sizes[1:]


def crop_then_pad(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Written out: keep the top-left h x w of ``x``, then zero-pad its
    bottom/right up to h x w."""
    x = x[:, :, :h, :w]
    return F.pad(x, (0, w - x.shape[3], 0, h - x.shape[2]), value=0.0)


# sizes whose halving is never exact at some level, and what the test expects
# of them (written out, so that a wrong size helper cannot hide a case)
ODD_SIZES = {
    # ceil: 2*ceil(n/2) = n + 1 -> U's output (2h) is cropped by one row/col
    ((65, 97), 'ceil'): [(17, 25), (9, 13), (5, 7), (3, 4)],
    # floor: 2*floor(n/2) = n - 1 -> U's output is padded by one, D's cropped
    ((63, 93), 'floor'): [(15, 23), (7, 11), (3, 5), (1, 2)],
    # floor-halving of 65 x 97 happens to be exact from 1/4 on
    ((65, 97), 'floor'): [(16, 24), (8, 12), (4, 6), (2, 3)],
}


def equations_1_to_3(head: RGPHead, e, use_downsample: bool):
    """The head's output recomputed from its modules, deepest level first
    (paper eq. 1-3; the D term only if ``use_downsample``), with U's output
    (2h, stride-2 transposed conv) and D's (ceil(n/2), 3x3 stride-2 conv)
    aligned with the level they are added to by :func:`crop_then_pad`
    (top-left corners aligned, no resampling).
    Also checks the sizes of U's and D's outputs."""
    sizes = [tuple(f.shape[-2:]) for f in e]
    t = [head.transfers[s](e[s]) for s in range(4)]
    dec = None
    for s in (3, 2, 1, 0):
        h, w = sizes[s]
        x = t[s]
        if use_downsample and s > 0:
            down = head.downsamples[s - 1](t[s - 1])
            assert down.shape[-2:] == (-(-sizes[s - 1][0] // 2),
                                       -(-sizes[s - 1][1] // 2))
            x = x + crop_then_pad(down, h, w)
        if dec is not None:
            up = head.upsamples[s](dec)
            assert up.shape[-2:] == (2 * sizes[s + 1][0],
                                     2 * sizes[s + 1][1])
            x = x + crop_then_pad(up, h, w)
        dec = head.decoders[s](x)
    return head.conv_seg(dec)


@pytest.mark.parametrize('use_downsample', [True, False])
@pytest.mark.parametrize(
    'image, rounding',
    list(ODD_SIZES),
    ids=[f'{h}x{w}-{r}' for (h, w), r in ODD_SIZES])
def test_forward_is_equation_1_to_3_at_odd_sizes(image, rounding,
                                                 use_downsample):
    """eq. 1-3 recomputed by hand where the levels do not halve exactly
    (U's and D's outputs cropped/zero-padded at the bottom/right, not
    resampled); with ``use_downsample=False`` the D term is gone."""
    sizes = halved_sizes(*image, rounding)
    assert sizes == ODD_SIZES[(image, rounding)]
    torch.manual_seed(0)
    head = make_head(use_downsample=use_downsample)
    assert hasattr(head, 'downsamples') == use_downsample
    randomize_bn(head, seed=3)
    head.eval()
    g = torch.Generator().manual_seed(4)
    e = [
        torch.randn(2, c, *s, generator=g)
        for c, s in zip(R18_CHANNELS, sizes)
    ]
    with torch.no_grad():
        expected = equations_1_to_3(head, e, use_downsample)
        got = head(e)
    assert got.shape == (2, 5, *sizes[0])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_in_index_selects_the_backbone_levels():
    """A backbone with five outputs (an extra 1/2 level first) and
    ``in_index=(1, 2, 3, 4)``: the head computes eq. 1-3 on outputs 1-4."""
    torch.manual_seed(0)
    head = make_head(in_index=(1, 2, 3, 4)).eval()
    e = encoder_feats((65, 97), seed=5)
    extra = torch.randn(2, 32, 33, 49)
    with torch.no_grad():
        torch.testing.assert_close(head([extra] + e),
                                   equations_1_to_3(head, e, True))


def test_shared_res_block_uses_one_weight_twice():
    torch.manual_seed(0)
    block = SharedResBlock(8, BN, dict(type='ReLU')).train()
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 1
    assert sum(p.numel() for p in block.parameters()) == 8 * 8 * 9 + 4 * 8

    x = torch.randn(2, 8, 6, 6)
    block(x).square().sum().backward()
    # the same block with two independent copies of the weight
    w1 = block.conv.weight.detach().clone().requires_grad_()
    w2 = block.conv.weight.detach().clone().requires_grad_()
    out = block.act1(block.bn1(F.conv2d(x, w1, padding=1)))
    out = block.act2(block.bn2(F.conv2d(out, w2, padding=1)) + x)
    out.square().sum().backward()
    # a shared weight receives the sum of the gradients of its two uses
    torch.testing.assert_close(block.conv.weight.grad, w1.grad + w2.grad)
    assert w1.grad.abs().sum() > 0 and w2.grad.abs().sum() > 0


def test_gradients_reach_every_branch():
    torch.manual_seed(0)
    head = make_head().train()
    feats = [f.requires_grad_() for f in encoder_feats((64, 64))]
    head(feats).square().mean().backward()
    for name, param in head.named_parameters():
        assert param.grad is not None, name
        assert param.grad.abs().sum() > 0, f'no gradient reaches {name}'
    for level, f in enumerate(feats):
        assert f.grad.abs().sum() > 0, f'no gradient to encoder level {level}'


def test_downsample_switch():
    torch.manual_seed(0)
    with_ds = make_head(use_downsample=True).eval()
    torch.manual_seed(0)
    without = make_head(use_downsample=False).eval()
    assert not hasattr(without, 'downsamples')
    ds_params = sum(p.numel() for p in with_ds.downsamples.parameters())
    # three 3x3 stride-2 convs (no bias) + BN: 64->128, 128->256, 256->512
    expected = sum(9 * a * b + 2 * b for a, b in [(64, 128), (128, 256),
                                                   (256, 512)])
    assert ds_params == expected
    n_with = sum(p.numel() for p in with_ds.parameters())
    n_without = sum(p.numel() for p in without.parameters())
    assert n_with - n_without == expected
    feats = encoder_feats((64, 64))
    assert not torch.allclose(with_ds(feats), without(feats))


def test_match_size_crops_and_pads():
    x = torch.arange(16.).view(1, 1, 4, 4)
    assert match_size(x, torch.zeros(1, 1, 3, 3)).shape[-2:] == (3, 3)
    torch.testing.assert_close(
        match_size(x, torch.zeros(1, 1, 3, 3)), x[..., :3, :3])
    padded = match_size(x, torch.zeros(1, 1, 5, 4))
    assert padded.shape[-2:] == (5, 4)
    assert padded[..., 4, :].abs().sum() == 0


@pytest.mark.parametrize(
    'kwargs, field',
    [
        (dict(in_channels=(64, 128, 256)), 'in_channels'),
        (dict(in_index=(0, 1)), 'in_index'),
        (dict(adaptor_channels=(64, 128, 256, 0)), 'adaptor_channels'),
        (dict(channels=32), 'channels'),
        (dict(input_transform='resize_concat'), 'input_transform'),
        (dict(norm_cfg=None), 'norm_cfg'),
    ])
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f'`{field}`'):
        make_head(**kwargs)


def test_unknown_option_is_named():
    with pytest.raises(TypeError, match='adaptor_width'):
        make_head(adaptor_width=64)


def test_backbone_mismatch_is_reported_before_the_convolutions():
    head = make_head()
    with pytest.raises(ValueError, match=r'in_channels.*\(256, 512, 1024'):
        head(encoder_feats((64, 64), channels=R101_CHANNELS))
    with pytest.raises(ValueError, match='in_index'):
        head(encoder_feats((64, 64))[:3])


def build_segmentor(cfg_path: str, **overrides):
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(CONFIG_DIR / cfg_path))
    model = cfg.model
    model.backbone.norm_cfg = BN
    model.decode_head.norm_cfg = BN
    model.backbone.init_cfg = None
    for key, value in overrides.items():
        model.decode_head[key] = value
    return MODELS.build(model)


def n_params(model) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def test_parameter_count_r18_matches_paper():
    """Paper tables 1-2: RGPNet(R18) has 17.7-17.8 M parameters."""
    model = build_segmentor('rgpnet_r18_cityscapes.py')
    assert 17.7 * 0.98 <= n_params(model) <= 17.8 * 1.02


def test_parameter_count_r101_matches_paper():
    """Paper table 1 (CamVid, 11 classes): RGPNet(R101) has 50.1 M."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_cityscapes.py'))
    cfg.model.backbone.depth = 101
    cfg.model.decode_head.in_channels = R101_CHANNELS
    cfg.model.backbone.norm_cfg = BN
    cfg.model.decode_head.norm_cfg = BN
    cfg.model.backbone.init_cfg = None
    cfg.model.decode_head.num_classes = 11
    model = MODELS.build(cfg.model)
    assert abs(n_params(model) - 50.1) <= 50.1 * 0.02


def test_whole_segmentor_logits_are_quarter_size_predictions_full_size():
    """``mode='tensor'`` gives the head's 1/4-size logits (ceil-halved
    twice: 67x131 -> 17x33); ``predict`` gives one label per input pixel:
    the argmax of those logits bilinearly resized to the image
    (``align_corners=False``, the head's setting)."""
    model = build_segmentor('rgpnet_r18_demo.py').eval()
    img = torch.randn(1, 3, 67, 131)
    with torch.no_grad():
        logits = model(img, mode='tensor')
        pred = model.predict(img)[0]
    assert logits.shape == (1, 19, 17, 33)
    full = F.interpolate(
        logits, size=(67, 131), mode='bilinear', align_corners=False)
    assert pred.pred_sem_seg.data.shape == (1, 67, 131)
    assert torch.equal(pred.pred_sem_seg.data, full.argmax(1))
    torch.testing.assert_close(pred.seg_logits.data, full[0])


def test_fused_shared_res_block_is_two_folded_convs():
    """Expected value written out: conv -> BN (eval formula) -> ReLU, the
    same weight again -> BN2 -> + x -> ReLU."""
    torch.manual_seed(0)
    block = SharedResBlock(8, BN, dict(type='ReLU'))
    randomize_bn(block)
    block.eval()
    x = torch.randn(2, 8, 7, 5)
    w = block.conv.weight.detach().clone()

    def bn(y, m):
        return ((y - m.running_mean[:, None, None]) /
                (m.running_var[:, None, None] + m.eps).sqrt() *
                m.weight[:, None, None] + m.bias[:, None, None])

    with torch.no_grad():
        mid = F.relu(bn(F.conv2d(x, w, padding=1), block.bn1))
        expected = F.relu(bn(F.conv2d(mid, w, padding=1), block.bn2) + x)
        block.fuse()
        got = block(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in block.modules())


@pytest.mark.parametrize('transposed', [False, True])
@pytest.mark.parametrize('groups', [1, 2])
def test_fold_bn_into_conv(transposed, groups):
    from rgpnet_mmseg.models import fold_bn_into_conv
    torch.manual_seed(1)
    cls = torch.nn.ConvTranspose2d if transposed else torch.nn.Conv2d
    kwargs = dict(output_padding=1) if transposed else {}
    conv = cls(4, 6, 3, stride=2, padding=1, groups=groups, **kwargs)
    bn = torch.nn.BatchNorm2d(6)
    randomize_bn(bn, seed=1)
    ref = torch.nn.Sequential(conv, bn).eval()
    fused = fold_bn_into_conv(conv, bn).eval()
    x = torch.randn(2, 4, 7, 9)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), ref(x), rtol=1e-5, atol=1e-5)


def _demo_segmentor():
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_demo.py'))
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    randomize_bn(model, seed=2)
    return model.eval()


def test_fuse_conv_bn_keeps_the_segmentor_output():
    """Fusing the whole RGPNet (backbone, U's transposed convs, the shared
    blocks) keeps the logits and leaves no BN; mmcv's fuse_conv_bn alone
    folds BN1 into the shared weight that BN2's conv reuses, and breaks
    it."""
    from mmcv.cnn import fuse_conv_bn as mmcv_fuse
    from rgpnet_mmseg.models import fuse_conv_bn
    model = _demo_segmentor()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        ref = model(x, mode='tensor')
        fused = fuse_conv_bn(model)
        torch.testing.assert_close(
            fused(x, mode='tensor'), ref, rtol=1e-4, atol=1e-4)
        broken = mmcv_fuse(copy.deepcopy(model))
        assert (broken(x, mode='tensor') - ref).abs().max() > 1e-2
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                   for m in fused.modules())
    # the original is untouched
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_fuse_conv_bn_leaves_a_norm_first_conv_module_alone():
    """mmcv's ConvModule(order=('norm', 'act', 'conv')) (mmseg's DAPPM,
    PIDNet) registers conv before BN but runs the BN first: folding that BN
    into the conv would change the output, so it stays."""
    from mmcv.cnn import ConvModule

    from rgpnet_mmseg.models import fuse_conv_bn
    torch.manual_seed(0)
    block = torch.nn.Sequential(ConvModule(
        8, 8, 3, padding=1, norm_cfg=dict(type='BN'),
        order=('norm', 'act', 'conv'))).eval()
    randomize_bn(block)
    x = torch.randn(2, 8, 9, 11)
    bn, conv = block[0].bn, block[0].conv
    expected = F.conv2d(torch.relu(bn(x)), conv.weight, conv.bias, padding=1)
    with torch.no_grad():
        fused = fuse_conv_bn(copy.deepcopy(block))
        torch.testing.assert_close(fused(x), expected)
    assert isinstance(fused[0].bn, torch.nn.BatchNorm2d)
