# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The head-to-head configs (configs/heads/, issue 14) and RGPHead's
``share_decoder_weights`` option.

* every config under configs/heads/ (globbed: new ones are covered) builds,
  predicts 19 classes at its head's output stride and trains for a few
  iterations on the demo data in a real mmengine Runner;
* every config has the encoder, data, schedule, optimizer and seed of the
  RGPHead config (itself the demo config), one decode head and no
  auxiliary head;
* ``share_decoder_weights=False`` gives each decoder block two weights
  (counted by hand), which train independently, fuse, and leave the
  default's state-dict keys as they were.
"""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmseg.registry import MODELS
from rgpnet_mmseg.models import fuse_conv_bn
from rgpnet_mmseg.models.decode_heads.rgp_head import SharedResBlock
from .conftest import CONFIG_DIR, randomize_bn
from .run_helpers import shrink_for_quick_run

HEADS_DIR = CONFIG_DIR / 'heads'
HEAD_CFGS = sorted(HEADS_DIR.glob('*.py'))
RGP_CFG = HEADS_DIR / 'rgpnet_r18-d32_1xb4-400it_demo-128x256.py'
UNSHARED_CFG = HEADS_DIR / 'rgpnet-unshared_r18-d32_1xb4-400it_demo-128x256.py'
DEMO_CFG = CONFIG_DIR / 'rgpnet_r18_demo.py'
CROP = (128, 256)  # (h, w): the demo crop
ITERS = 2
# output stride of each head on the d32 ResNet-18 (no dilation)
OUTPUT_STRIDE = {
    'FCNHead': 32,
    'PSPHead': 32,
    'ASPPHead': 32,
    'DepthwiseSeparableASPPHead': 4,
    'UPerHead': 4,
    'FPNHead': 4,
    'SegformerHead': 4,
    'LightHamHead': 8,
    'RGPHead': 4,
}
# what every config shares with the RGPHead config
SHARED_KEYS = ('model.type', 'model.backbone', 'model.data_preprocessor',
               'model.train_cfg', 'model.test_cfg', 'optim_wrapper',
               'param_scheduler', 'train_cfg', 'val_cfg', 'test_cfg',
               'train_dataloader', 'val_dataloader', 'test_dataloader',
               'val_evaluator', 'test_evaluator', 'randomness', 'env_cfg',
               'default_hooks', 'custom_imports', 'default_scope')
R18_WIDTHS = (64, 128, 256, 512)
BN = dict(type='BN', requires_grad=True)
RELU = dict(type='ReLU')

_names = itertools.count()


def load(path) -> Config:
    cfg = Config.fromfile(str(path))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    return cfg


def lookup(cfg: Config, dotted: str):
    value = cfg
    for key in dotted.split('.'):
        value = value.get(key)
    return value.to_dict() if hasattr(value, 'to_dict') else value


def test_the_configs_are_there():
    names = {p.name.split('_')[0] for p in HEAD_CFGS}
    assert names >= {
        'fcn', 'pspnet', 'deeplabv3', 'deeplabv3plus', 'upernet', 'fpn',
        'segformer-head', 'rgpnet', 'rgpnet-no-ds', 'rgpnet-unshared'
    }, names


def test_the_rgphead_config_is_the_demo_config():
    def plain(path):
        return {k: v for k, v in load(path).to_dict().items()
                if k not in ('norm_cfg', 'ce_loss')}

    assert plain(RGP_CFG) == plain(DEMO_CFG)


@pytest.mark.parametrize('path', HEAD_CFGS, ids=lambda p: p.name)
def test_same_encoder_data_and_schedule(path):
    cfg, ref = load(path), load(RGP_CFG)
    for key in SHARED_KEYS:
        assert lookup(cfg, key) == lookup(ref, key), \
            f'{path.name}: `{key}` differs from the RGPHead config'
    backbone = ref.model.backbone
    assert (backbone.depth, backbone.init_cfg) == (18, None)
    assert cfg.model.get('auxiliary_head') is None, path.name
    head = cfg.model.decode_head
    assert head.num_classes == 19 and not head.align_corners
    assert head.loss_decode == dict(
        type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)


@pytest.mark.parametrize('path', HEAD_CFGS, ids=lambda p: p.name)
def test_forward_at_the_head_output_stride(path):
    cfg = load(path)
    head_type = cfg.model.decode_head.type
    assert head_type in OUTPUT_STRIDE, \
        f'{path.name}: add the output stride of {head_type} to this test'
    stride = OUTPUT_STRIDE[head_type]
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    assert type(model.decode_head).__name__ == head_type
    with torch.no_grad():
        out = model(torch.randn(1, 3, *CROP), mode='tensor')
    assert out.shape == (1, 19, CROP[0] // stride, CROP[1] // stride)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize('path', HEAD_CFGS, ids=lambda p: p.name)
def test_trains_on_the_demo_data(path, demo_data_root, tmp_path):
    cfg = shrink_for_quick_run(
        load(path), demo_data_root, tmp_path, crop=CROP, max_iters=ITERS,
        name=f'test_heads_{next(_names)}_{tmp_path.name}')
    cfg.train_cfg.val_interval = ITERS
    cfg.default_hooks.checkpoint = None
    runner = Runner.from_cfg(cfg)
    head = runner.model.decode_head
    before = {k: v.clone() for k, v in head.state_dict().items()}
    runner.train()
    assert runner.iter == ITERS
    losses = {
        k: v.current()
        for k, v in runner.message_hub.log_scalars.items()
        if k.startswith('train/') and 'loss' in k
    }
    assert set(losses) == {'train/loss', 'train/decode.loss_ce'}, losses
    assert all(math.isfinite(v) for v in losses.values()), losses
    changed = [k for k, v in head.state_dict().items()
               if v.is_floating_point() and not torch.equal(v, before[k])]
    assert changed, f'{path.name}: training left the head unchanged'


# --- RGPHead(share_decoder_weights=False) -------------------------------


def test_default_state_dict_keys_are_unchanged():
    """Existing checkpoints load: one ``conv`` per decoder block."""
    head = MODELS.build(load(RGP_CFG).model.decode_head)
    bn = ['weight', 'bias', 'running_mean', 'running_var',
          'num_batches_tracked']
    expected = [f'decoders.{s}.{k}' for s in range(4) for k in
                ['conv.weight'] + [f'bn{i}.{b}' for i in (1, 2) for b in bn]]
    assert [k for k in head.state_dict() if k.startswith('decoders.')] == \
        expected


def test_unshared_adds_one_conv_per_decoder_block():
    """Counted by hand: each of the four blocks gets a second 3x3 conv
    (c x c x 9, no bias); nothing else changes."""
    shared, unshared = (MODELS.build(load(p).model)
                        for p in (RGP_CFG, UNSHARED_CFG))
    extra = sum(9 * c * c for c in R18_WIDTHS)

    def n_params(model):
        return sum(p.numel() for p in model.parameters())

    assert n_params(unshared) - n_params(shared) == extra
    for block in unshared.decode_head.decoders:
        assert not hasattr(block, 'conv')
        assert block.conv1.weight is not block.conv2.weight


def test_unshared_block_is_a_plain_basic_block():
    """Expected value written out: conv1 -> BN1 -> ReLU -> conv2 -> BN2,
    + x -> ReLU, with the two weights; fused, the same."""
    torch.manual_seed(0)
    block = SharedResBlock(8, BN, RELU, shared=False)
    randomize_bn(block)
    block.eval()
    w1, w2 = block.conv1.weight.detach(), block.conv2.weight.detach()
    assert not torch.equal(w1, w2)

    def bn(y, m):
        return F.batch_norm(y, m.running_mean, m.running_var, m.weight,
                            m.bias, False, 0.0, m.eps)

    x = torch.randn(2, 8, 7, 5)
    with torch.no_grad():
        mid = F.relu(bn(F.conv2d(x, w1, padding=1), block.bn1))
        expected = F.relu(bn(F.conv2d(mid, w2, padding=1), block.bn2) + x)
        torch.testing.assert_close(block(x), expected)
        block.fuse()
        torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in block.modules())


def test_unshared_weights_train_independently():
    """One SGD step moves the two weights of a block by their own
    gradients (a shared weight would move once, by their sum)."""
    torch.manual_seed(0)
    block = SharedResBlock(8, BN, RELU, shared=False).train()
    before = [c.weight.detach().clone() for c in (block.conv1, block.conv2)]
    opt = torch.optim.SGD(block.parameters(), lr=0.1)
    block(torch.randn(2, 8, 6, 6)).square().sum().backward()
    grads = [c.weight.grad.clone() for c in (block.conv1, block.conv2)]
    opt.step()
    steps = [c.weight.detach() - b
             for c, b in zip((block.conv1, block.conv2), before)]
    for step, grad in zip(steps, grads):
        torch.testing.assert_close(step, -0.1 * grad)
        assert step.abs().sum() > 0
    assert not torch.allclose(steps[0], steps[1])


@pytest.mark.parametrize('path', [RGP_CFG, UNSHARED_CFG],
                         ids=['shared', 'unshared'])
def test_fused_head_matches_for_both_settings(path):
    torch.manual_seed(0)
    model = MODELS.build(load(path).model)
    randomize_bn(model)
    model.eval()
    x = torch.randn(1, 3, 64, 128)
    with torch.no_grad():
        expected = model(x, mode='tensor')
        got = fuse_conv_bn(model)(x, mode='tensor')
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


# mmdeploy's adaptive_avg_pool2d rewriter (active in every torch2onnx)
# pools with kernel = stride = size // bins: exact only where the bins
# (1, 2, 3, 6) divide the 1/32 map, i.e. at multiples of 192 (docs/
# heads_benchmark.md); 128x256 fails with stride 0 (mmdeploy's, left as is)
POOLING_SHAPE = (192, 384)


@pytest.mark.parametrize('name', ['pspnet', 'upernet'])
@pytest.mark.parametrize('exporter', ['legacy', 'dynamo'])
def test_pooling_heads_export_and_run_in_onnxruntime(
        name, exporter, tmp_path, demo_data_root):
    """PSPHead/UPerHead through the one export path (run_deploy: mmdeploy's
    torch2onnx, which rewrites their adaptive pooling) with both exporters;
    the dynamo graph, brought down to opset 17, must load in ONNX Runtime
    (no ReduceMean attribute of opset 18 left); both give the eager
    logits."""
    shape = POOLING_SHAPE
    onnx = pytest.importorskip('onnx')
    pytest.importorskip('onnxruntime')
    from .deploy_helpers import deploy_cfg, export, graph_logits, ort_run
    path = HEADS_DIR / f'{name}_r18-d32_1xb4-400it_demo-128x256.py'
    torch.manual_seed(0)
    model = MODELS.build(load(path).model).eval()
    randomize_bn(model)
    checkpoint = str(tmp_path / 'model.pth')
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, checkpoint)
    img = next((demo_data_root / 'leftImg8bit' / 'val').rglob('*.png'))
    info = export(tmp_path / 'deploy', load(path), checkpoint, str(img),
                  deploy_cfg(shape=shape), exporter=exporter,
                  with_argmax=False)
    assert info['exporter'] == exporter
    assert info['opset'] == (17 if exporter == 'dynamo' else 11)
    file = info['onnx_file']
    reduce_attrs = {a.name for n in onnx.load(file).graph.node
                    if n.op_type.startswith('Reduce') for a in n.attribute}
    assert 'noop_with_empty_axes' not in reduce_attrs
    x = torch.randn(1, 3, *shape)
    torch.testing.assert_close(torch.from_numpy(ort_run(file, x)),
                               torch.from_numpy(graph_logits(model, x)),
                               atol=1e-4, rtol=1e-4)
