# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""tools/analysis_tools/entropy_diff.py runs end to end on tiny inputs; the
entropy helpers are exact."""
import json
import math

import cv2
import numpy as np
import pytest
import torch

from rgpnet_mmseg.apis.entropy import (diverging_heatmap,
                                        entropy_from_logits, entropy_stats,
                                        prediction_border_mask)
from .conftest import CONFIG_DIR, load_tool


# --------------------------------------------------------------------------
# entropy helpers
# --------------------------------------------------------------------------
@pytest.mark.parametrize('num_classes', [2, 19, 150])
def test_entropy_of_uniform_logits_is_log_c(num_classes):
    for value in (0.0, 7.5, -1e4):
        logits = torch.full((num_classes, 3, 5), value)
        ent = entropy_from_logits(logits, dim=0)
        assert ent.shape == (3, 5)
        torch.testing.assert_close(
            ent, torch.full((3, 5), math.log(num_classes)))
    # batched, class dim 1
    ent = entropy_from_logits(torch.zeros(2, num_classes, 4, 4), dim=1)
    torch.testing.assert_close(ent,
                               torch.full((2, 4, 4), math.log(num_classes)))


def test_entropy_matches_definition_and_edge_cases():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(19, 8, 8, generator=gen, dtype=torch.float64) * 3
    p = logits.softmax(0)
    torch.testing.assert_close(
        entropy_from_logits(logits), -(p * p.log()).sum(0))
    # confident: ~0; -inf logits (p = 0) contribute 0, not NaN
    confident = torch.tensor([100.0, 0.0, 0.0])[:, None, None]
    assert 0 <= float(entropy_from_logits(confident)) < 1e-6
    two = torch.tensor([0.0, 0.0, -float('inf')])[:, None, None]
    torch.testing.assert_close(
        entropy_from_logits(two), torch.tensor([[math.log(2)]]))
    # large logits stay finite (no overflow)
    big = torch.tensor([1e30, 1e30])[:, None, None]
    torch.testing.assert_close(
        entropy_from_logits(big), torch.tensor([[math.log(2)]]))


def test_entropy_stats_and_prediction_borders():
    pred = torch.zeros(4, 6, dtype=torch.long)
    pred[:, 3:] = 1
    border = prediction_border_mask(pred, 3)
    expected = torch.zeros(4, 6, dtype=torch.bool)
    expected[:, 2:4] = True
    assert torch.equal(border, expected)
    ent_a = torch.where(border, 0.5, 0.1)
    ent_b = torch.where(border, 1.0, 0.1)
    valid = torch.ones(4, 6, dtype=torch.bool)
    valid[0, 0] = False  # an ignored, non-border pixel
    stats = entropy_stats(ent_a, ent_b, border, valid)
    assert stats['num_border'] == 8 and stats['num_non_border'] == 15
    assert stats['a']['border'] == pytest.approx(0.5)
    assert stats['b']['border'] == pytest.approx(1.0)
    assert stats['diff']['border'] == pytest.approx(-0.5)
    assert stats['diff']['non_border'] == pytest.approx(0.0)
    assert stats['a']['all'] == pytest.approx((8 * 0.5 + 15 * 0.1) / 23)
    # empty set: NaN, not an error
    none = entropy_stats(ent_a, ent_b, torch.zeros_like(border))
    assert math.isnan(none['a']['border'])


def test_heatmap_is_blue_where_a_is_more_confident():
    rgb = diverging_heatmap(np.array([[-1.0, 0.0, 1.0]]), vmax=1.0)
    assert rgb.shape == (1, 3, 3) and rgb.dtype == np.uint8
    neg, zero, pos = rgb[0].astype(int)
    assert neg[2] > neg[0] + 50 and neg[2] > neg[1]  # blue
    assert pos[0] > pos[2] + 50 and pos[0] > pos[1]  # red
    assert zero.min() > 220  # white-ish


# --------------------------------------------------------------------------
# tools/analysis_tools/entropy_diff.py
# --------------------------------------------------------------------------
def _save_demo_checkpoint(config, path, seed):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    demo = load_tool('make_demo_data')
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(config))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    torch.save(
        {
            'meta': {
                'dataset_meta': {
                    'classes': demo.CLASSES,
                    'palette': [list(c) for c in demo.PALETTE]
                }
            },
            'state_dict': model.state_dict()
        }, path)


@pytest.fixture(scope='module')
def tiny_models(tmp_path_factory):
    """Freshly built (random) demo models saved as mmengine checkpoints,
    and a 64x128 street scene with its label map."""
    render_sample = load_tool('make_demo_data').render_sample
    root = tmp_path_factory.mktemp('entropy')
    cfg_a = CONFIG_DIR / 'rgpnet_r18_pr-lr_demo.py'
    cfg_b = CONFIG_DIR / 'rgpnet_r18_demo.py'
    _save_demo_checkpoint(cfg_a, root / 'a.pth', 1)
    _save_demo_checkpoint(cfg_b, root / 'b.pth', 2)
    rgb, label = render_sample(0, 'val', 0, 64, 128)
    cv2.imwrite(str(root / 'img.png'), rgb[..., ::-1])
    cv2.imwrite(str(root / 'label.png'), label)
    return dict(
        root=root,
        cfg_a=str(cfg_a),
        ckpt_a=str(root / 'a.pth'),
        cfg_b=str(cfg_b),
        ckpt_b=str(root / 'b.pth'),
        image=str(root / 'img.png'),
        label=str(root / 'label.png'))


def test_entropy_diff_tool_with_label(tiny_models, capsys):
    tool = load_tool('analysis_tools/entropy_diff')
    m = tiny_models
    out = m['root'] / 'heat.png'
    stats = tool.main([
        m['cfg_a'], m['ckpt_a'], m['cfg_b'], m['ckpt_b'], m['image'],
        '--label', m['label'], '--out',
        str(out), '--json',
        str(m['root'] / 'stats.json'), '--figure',
        str(m['root'] / 'panel.png')
    ])
    heat = cv2.imread(str(out))
    assert heat is not None and heat.shape == (64, 128, 3)
    assert cv2.imread(str(m['root'] / 'panel.png')) is not None
    saved = json.loads((m['root'] / 'stats.json').read_text())
    assert saved['border_from'] == 'label' and saved['size'] == [64, 128]
    assert saved['max_entropy'] == pytest.approx(math.log(19))
    for key in ('a', 'b', 'diff'):
        for part in ('border', 'non_border', 'all'):
            assert math.isfinite(saved[key][part])
            assert saved[key][part] == pytest.approx(stats[key][part])
    for key in ('a', 'b'):
        assert 0 <= saved[key]['all'] <= math.log(19) + 1e-6
    assert saved['diff']['border'] == pytest.approx(
        saved['a']['border'] - saved['b']['border'], abs=1e-9)
    # border pixels are those of the label map (the loss's definition)
    from rgpnet_mmseg.models.losses.label_relaxation_loss import border_mask
    label = torch.from_numpy(cv2.imread(m['label'], cv2.IMREAD_UNCHANGED))
    assert saved['num_border'] == int(
        border_mask(label[None].long(), 3, 255, 19).sum())
    text = capsys.readouterr().out
    assert 'A - B' in text and 'non-border' in text


def test_entropy_diff_tool_same_model_and_errors(tiny_models, capsys):
    tool = load_tool('analysis_tools/entropy_diff')
    m = tiny_models
    out = m['root'] / 'same.png'
    stats = tool.main([
        m['cfg_a'], m['ckpt_a'], m['cfg_a'], m['ckpt_a'], m['image'],
        '--out',
        str(out), '--vmax', '0.5'
    ])
    assert stats['border_from'] == 'union'
    assert stats['diff']['all'] == 0.0
    heat = cv2.imread(str(out))
    assert heat.shape == (64, 128, 3)
    assert heat.min() > 240  # all white: no difference
    # a label map of another size is refused with one line
    small = m['root'] / 'small_label.png'
    cv2.imwrite(str(small), np.zeros((32, 64), np.uint8))
    with pytest.raises(SystemExit) as exc:
        tool.main([
            m['cfg_a'], m['ckpt_a'], m['cfg_b'], m['ckpt_b'], m['image'],
            '--label',
            str(small), '--out',
            str(m['root'] / 'x.png')
        ])
    assert 'is 32x64, the image is 64x128' in str(exc.value)
