# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Progressive resizing: ProgressiveResizeDataPreProcessor on hand-checked
batches, ProgressiveResizeHook in real mmengine Runners on the demo data
(stage changes, validation left alone, resume, epoch-based loops)."""
import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from mmengine.config import Config
from mmengine.registry import HOOKS
from mmengine.runner import Runner
from mmengine.structures import PixelData

from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from rgpnet_mmseg.engine.hooks import ProgressiveResizeHook
from rgpnet_mmseg.models.data_preprocessors import (  # noqa: F401
    ProgressiveResizeDataPreProcessor, scaled_size)
from .conftest import CONFIG_DIR
from .run_helpers import shrink_for_quick_run

DEMO_CFG = CONFIG_DIR / 'rgpnet_r18_demo.py'
PR_DEMO_CFG = CONFIG_DIR / 'rgpnet_r18_pr-lr_demo.py'
# the tests train on 64x128 crops of the 128x256 demo images at half size
# (and validate at 64x128), to stay fast on a CPU
FULL = (64, 128)
# the test schedule: 1/2 for iterations 0-1, 3/4 for 2-3, full from 4 on
STAGES = [(0, 0.5), (2, 0.75), (4, 1.0)]
SIZE = {0.5: (32, 64), 0.75: (48, 96), 1.0: FULL}
# STAGES as fractions of 6 iterations (0.25 * 6 = 1.5 rounds half up to 2)
FRACTIONS = [(0, 0.5), (0.25, 0.75), (0.6, 1.0)]
GREEN_AI = [(0, 0.25), (0.6, 0.5), (0.8, 1.0)]


pytestmark = pytest.mark.usefixtures('one_torch_thread')


# ---------------------------------------------------------------------------
# the data preprocessor


def batch(images, labels):
    """A dataloader batch: CHW images, (H, W) integer label maps."""
    samples = []
    for img, label in zip(images, labels):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label[None].clone())
        sample.set_metainfo(dict(ori_shape=tuple(img.shape[-2:])))
        samples.append(sample)
    return dict(inputs=[img.clone() for img in images], data_samples=samples)


def build(**kwargs):
    return MODELS.build(
        dict(type='ProgressiveResizeDataPreProcessor', **kwargs))


def test_halves_bilinear_images_and_nearest_labels_by_hand():
    pre = build(size=(4, 4), train_scale=0.5)
    img = torch.arange(16.).view(1, 4, 4)
    label = torch.arange(16).view(4, 4)
    out = pre(batch([img], [label]), training=True)
    # bilinear, half-pixel centres: each output pixel is the mean of a 2x2
    # block of the input
    assert out['inputs'].shape == (1, 1, 2, 2)
    assert torch.equal(out['inputs'][0, 0],
                       torch.tensor([[2.5, 4.5], [10.5, 12.5]]))
    # nearest, pixel centres aligned: output pixel i takes input 2i + 1
    sample = out['data_samples'][0]
    assert sample.gt_sem_seg.data.dtype == torch.int64
    assert torch.equal(sample.gt_sem_seg.data,
                       torch.tensor([[[5, 7], [13, 15]]]))
    assert tuple(sample.img_shape) == (2, 2)
    assert tuple(sample.pad_shape) == (2, 2)
    assert list(sample.padding_size) == [0, 0, 0, 0]


def test_resizes_after_padding_and_keeps_the_ignore_index():
    """A 3x4 image padded to 4x4 (image 0, label 255), then halved."""
    pre = build(size=(4, 4), train_scale=0.5)
    img = torch.arange(12.).view(1, 3, 4)
    label = torch.arange(12).view(3, 4)
    out = pre(batch([img], [label]), training=True)
    assert torch.equal(
        out['inputs'][0, 0],
        torch.tensor([[2.5, 4.5], [(8 + 9) / 4, (10 + 11) / 4]]))
    sample = out['data_samples'][0]
    assert torch.equal(sample.gt_sem_seg.data,
                       torch.tensor([[[5, 7], [255, 255]]]))
    assert tuple(sample.img_shape) == (2, 2)  # 3 * 0.5 rounds half up
    assert tuple(sample.pad_shape) == (2, 2)


def test_metainfo_follows_the_resized_batch():
    """A 5x8 and a 4x6 image padded to 5x8, at scale 0.5 -> 3x4 (ratios
    3/5 in h, 1/2 in w), written out: img_shape (3, 4) and (round(4 * 0.6),
    round(6 * 0.5)) = (2, 3); padding_size (left, right, top, bottom) what
    is left of 3x4; scale_factor (w, h) times (1/2, 3/5)."""
    pre = build(size=(5, 8), train_scale=0.5)
    images = [torch.rand(3, 5, 8), torch.rand(3, 4, 6)]
    labels = [torch.zeros(5, 8, dtype=torch.long),
              torch.zeros(4, 6, dtype=torch.long)]
    data = batch(images, labels)
    for sample in data['data_samples']:
        sample.set_metainfo(dict(scale_factor=(2.0, 3.0)))
    out = pre(data, training=True)
    assert out['inputs'].shape == (2, 3, 3, 4)
    want = [((3, 4), [0, 0, 0, 0]), ((2, 3), [0, 1, 0, 1])]
    for sample, (img_shape, padding) in zip(out['data_samples'], want):
        assert tuple(sample.img_shape) == img_shape
        assert list(sample.padding_size) == padding
        assert tuple(sample.pad_shape) == (3, 4)
        assert sample.scale_factor == pytest.approx((1.0, 1.8))


def test_sizes_round_half_up_and_stay_at_least_one():
    """Written out: 9 * 0.5 = 4.5 -> 5 and 5 * 0.5 = 2.5 -> 3 (half up, not
    to even), 0.3 * 3 -> 1, never 0."""
    assert [scaled_size(n, 0.5) for n in (9, 5, 4, 1)] == [5, 3, 2, 1]
    assert scaled_size(3, 0.3) == 1 and scaled_size(1, 0.05) == 1
    pre = build(size=(5, 9), train_scale=0.5)
    img, label = torch.rand(3, 5, 9), torch.zeros(5, 9, dtype=torch.long)
    out = pre(batch([img], [label]), training=True)
    assert out['inputs'].shape == (1, 3, 3, 5)
    assert out['data_samples'][0].gt_sem_seg.data.shape == (1, 3, 5)


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    n=st.integers(1, 3),
    scale=st.floats(0.05, 1.0),
    values=st.lists(
        st.sampled_from([0, 1, 7, 18, 255]), min_size=1, max_size=4),
    seed=st.integers(0, 2**16))
def test_resize_matches_torch_and_keeps_labels_in_their_set(
        h, w, n, scale, values, seed):
    gen = torch.Generator().manual_seed(seed)
    images = [torch.rand(3, h, w, generator=gen) * 255 for _ in range(n)]
    pool = torch.tensor(values)
    labels = [
        pool[torch.randint(len(values), (h, w), generator=gen)]
        for _ in range(n)
    ]
    pre = build(size=(h, w), train_scale=scale)
    out = pre(batch(images, labels), training=True)
    size = (max(1, math.floor(h * scale + 0.5)),
            max(1, math.floor(w * scale + 0.5)))
    assert out['inputs'].shape == (n, 3, *size)
    expected = F.interpolate(
        torch.stack(images), size=size, mode='bilinear', align_corners=False)
    torch.testing.assert_close(out['inputs'], expected)
    for sample, label in zip(out['data_samples'], labels):
        got = sample.gt_sem_seg.data
        assert got.shape == (1, *size) and got.dtype == label.dtype
        assert set(got.unique().tolist()) <= set(values)
        nearest = F.interpolate(
            label[None, None].float(), size=size, mode='nearest-exact')
        assert torch.equal(got, nearest[0].long())
        assert tuple(sample.pad_shape) == size


def test_eval_and_full_scale_are_plain_seg_data_preprocessor():
    args = dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size=(8, 10))
    plain = SegDataPreProcessor(**args)
    pre = build(train_scale=0.25, **args)
    images = [torch.randint(0, 256, (3, 8, 10), dtype=torch.uint8)] * 2
    labels = [torch.randint(0, 19, (8, 10))] * 2
    # validation/test: never resized
    got = pre(batch(images, labels), training=False)
    want = plain(batch(images, labels), training=False)
    assert torch.equal(got['inputs'], want['inputs'])
    assert got['inputs'].shape[-2:] == (8, 10)
    # scale 1: what SegDataPreProcessor gives
    pre.train_scale = 1.0
    got = pre(batch(images, labels), training=True)
    want = plain(batch(images, labels), training=True)
    assert torch.equal(got['inputs'], want['inputs'])
    for a, b in zip(got['data_samples'], want['data_samples']):
        assert torch.equal(a.gt_sem_seg.data, b.gt_sem_seg.data)
    # not in the state dict: checkpoints load into a plain preprocessor
    assert pre.state_dict().keys() == plain.state_dict().keys()


@pytest.mark.parametrize('scale', [0, -0.5, 1.5, float('nan'), True, '0.5'])
def test_train_scale_must_be_in_0_1(scale):
    with pytest.raises(ValueError, match=r'\(0, 1\]'):
        build(train_scale=scale)
    pre = build()
    with pytest.raises(ValueError, match=r'\(0, 1\]'):
        pre.train_scale = scale
    assert pre.train_scale == 1.0


# ---------------------------------------------------------------------------
# the hook on its own


def test_hook_is_in_mmengine_registry_and_finds_stages():
    hook = HOOKS.build(dict(type='ProgressiveResizeHook', stages=STAGES))
    assert isinstance(hook, ProgressiveResizeHook)
    assert [hook.scale_at(i)
            for i in range(7)] == [0.5, 0.5, 0.75, 0.75, 1.0, 1.0, 1.0]
    # lists (as --cfg-options gives them) work as well
    assert ProgressiveResizeHook([[0, 1]]).stages == [(0, 1.0)]


@pytest.mark.parametrize('stages, match',
                         [([], 'non-empty'), ('0.5', 'non-empty'),
                          ([(0, )], 'pair'),
                          ([(1, 0.5), (4, 1.0)], 'start at 0'),
                          ([(0, 0.5), (0, 1.0)], 'strictly increasing'),
                          ([(0, 0.5), (4, 1.0),
                            (2, 0.75)], 'strictly increasing'),
                          ([(0.5, 1.0)], 'fraction=True'),
                          ([(-1, 1.0)], 'integers'), ([(0, 0.0)], r'\(0, 1\]'),
                          ([(0, 0.5), (2, 1.25)], r'stages\[1\]')])
def test_bad_schedules_are_refused(stages, match):
    with pytest.raises(ValueError, match=match):
        ProgressiveResizeHook(stages)


@pytest.mark.parametrize('stages, match',
                         [([(0, 0.5), (1.0, 1.0)], r'\[0, 1\)'),
                          ([(0, 0.5), (-0.1, 1.0)], r'\[0, 1\)'),
                          ([(0.1, 1.0)], 'start at 0'),
                          ([(0, 0.5), (0.8, 0.7), (0.6, 1.0)], 'increasing')])
def test_bad_fractions_are_refused(stages, match):
    with pytest.raises(ValueError, match=match):
        ProgressiveResizeHook(stages, fraction=True)


def test_fractions_resolve_half_up_and_past_the_end_is_refused():
    # the Green-AI 9/3/3 of 15 epochs; 0.25 * 6 = 1.5 rounds up to 2
    assert ProgressiveResizeHook(GREEN_AI, fraction=True).resolve(15) == [
        0, 9, 12]
    hook = ProgressiveResizeHook(FRACTIONS, fraction=True)
    assert hook.resolve(6) == [0, 2, 4]
    with pytest.raises(ValueError, match='training ends at epoch 4'):
        ProgressiveResizeHook(STAGES).resolve(4, 'epoch')
    # 0.1 * 4 = 0.4 rounds to 0: two stages at the same start
    with pytest.raises(ValueError, match=r'iterations \[0, 0\]'):
        ProgressiveResizeHook([(0, 0.5), (0.1, 1.0)], fraction=True).resolve(4)


# ---------------------------------------------------------------------------
# the hook in real Runners on the demo data

_names = itertools.count()


def demo_cfg(root,
             work_dir,
             max_iters,
             stages=STAGES,
             cfg_file=DEMO_CFG,
             val_interval=2,
             checkpoints=None):
    """The demo config (with ProgressiveResizeDataPreProcessor) shrunk to a
    few iterations of batch 2 on 64x128 crops, with a one image validation
    set (every ``val_interval`` iterations; None: never), saving a
    checkpoint every ``checkpoints`` iterations (None: never)."""
    cfg = Config.fromfile(str(cfg_file))
    cfg.model.data_preprocessor.type = 'ProgressiveResizeDataPreProcessor'
    shrink_for_quick_run(
        cfg, root, work_dir, crop=FULL, max_iters=max_iters,
        name=f'test_progressive_resize_{next(_names)}_{work_dir.name}')
    if val_interval is None:  # no validation at all
        cfg.train_cfg.val_begin = 10**9
        val_interval = max(max_iters, 1)
    cfg.train_cfg.val_interval = val_interval
    # plain SGD: no optimizer state, 1/3 of AdamW's checkpoint to write/read
    cfg.optim_wrapper.optimizer = dict(type='SGD', lr=0.01)
    if checkpoints:
        cfg.default_hooks.checkpoint.interval = checkpoints
        cfg.default_hooks.checkpoint.max_keep_ckpts = 10
    else:
        cfg.default_hooks.checkpoint = None
    cfg.custom_hooks = [dict(type='ProgressiveResizeHook', stages=stages)]
    return cfg


def record_inputs(runner):
    """Record (training?, input size, preprocessor's train_scale) at every
    forward of the backbone."""
    seen = []
    preprocessor = runner.model.data_preprocessor

    def record(module, args):
        seen.append((module.training, tuple(args[0].shape[-2:]),
                     getattr(preprocessor, 'train_scale', None)))

    runner.model.backbone.register_forward_pre_hook(record)
    return seen


def train_sizes(seen):
    return [size for training, size, _ in seen if training]


def scales(runner):
    return runner.message_hub.get_scalar('train/scale').data[0].tolist()


@pytest.fixture(scope='module')
def six_iters(demo_data_root, tmp_path_factory):
    """6 iterations with the test schedule, validating every 2, saving
    iter_1 .. iter_6.pth."""
    work_dir = tmp_path_factory.mktemp('pr_six')
    runner = Runner.from_cfg(
        demo_cfg(demo_data_root, work_dir, 6, checkpoints=1))
    seen = record_inputs(runner)
    runner.train()
    return runner, seen, work_dir


def test_scale_follows_the_stages(six_iters):
    runner, seen, work_dir = six_iters
    want = [0.5, 0.5, 0.75, 0.75, 1.0, 1.0]
    assert train_sizes(seen) == [SIZE[scale] for scale in want]
    assert scales(runner) == want
    # the LoggerHook wrote the scale with the other training scalars
    scalars = next(work_dir.rglob('scalars.json')).read_text()
    lines = [json.loads(line) for line in scalars.splitlines()]
    logged = [(d['step'], d['scale']) for d in lines if 'scale' in d]
    assert logged == [(1, 0.5), (2, 0.5), (3, 0.75), (4, 0.75), (5, 1.0),
                      (6, 1.0)]
    # back to full size after training
    assert runner.model.data_preprocessor.train_scale == 1.0


def test_validation_is_never_resized(six_iters):
    """Validation after iterations 2 and 4 ran while the training scale was
    1/2 and 3/4: the validation image still went in at full size."""
    _, seen, _ = six_iters
    val = [(size, scale) for training, size, scale in seen if not training]
    assert val == [(FULL, 0.5), (FULL, 0.75), (FULL, 1.0)]


# (checkpoint, scale of the next iteration): stage 2 spans iterations 2-3,
# stage 3 4-5; iter_3/iter_5 resume in the middle of a stage
@pytest.mark.parametrize('checkpoint, scale', [(2, 0.75), (3, 0.75),
                                               (4, 1.0), (5, 1.0)],
                         ids=['stage-2-start', 'mid-stage-2', 'stage-3-start',
                              'mid-stage-3'])
def test_resume_trains_at_the_stage_of_the_checkpoint(six_iters,
                                                      demo_data_root, tmp_path,
                                                      checkpoint, scale):
    """Resume from iter_<checkpoint> in a new Runner, at a stage start or
    in the middle of a stage: the first resumed iteration runs at that
    stage's scale; nothing but the iteration count comes from the
    checkpoint. (The resumed run ends one iteration later: the stages
    starting after that are left out, a stage past the end is an error.)"""
    _, _, work_dir = six_iters
    cfg = demo_cfg(
        demo_data_root,
        tmp_path / f'resumed_{checkpoint}',
        checkpoint + 1,
        [stage for stage in STAGES if stage[0] <= checkpoint],
        val_interval=None)
    cfg.resume = True
    cfg.load_from = str(work_dir / f'iter_{checkpoint}.pth')
    runner = Runner.from_cfg(cfg)
    seen = record_inputs(runner)
    runner.train()
    assert runner.iter == checkpoint + 1
    assert train_sizes(seen) == [SIZE[scale]]
    # the restored history of the first run, then the resumed iteration
    assert scales(runner)[-1] == scale
    assert scales(runner)[:-1] == [0.5, 0.5, 0.75, 0.75, 1.0, 1.0][:checkpoint]


# by epoch: 1/2 in epoch 0, 3/4 in epochs 1-2, full from epoch 3 on; two
# iterations per epoch, so that counting iterations instead of epochs shows
EPOCH_STAGES = [(0, 0.5), (1, 0.75), (3, 1.0)]


def epoch_cfg(root, work_dir, max_epochs, stages=EPOCH_STAGES, fraction=False):
    """configs/rgpnet_r18_pr-lr_demo.py (label relaxation loss) with
    EPOCH_STAGES in an epoch-based loop: epochs of 2 iterations (4 images,
    batch 2, not shuffled), a checkpoint after every epoch."""
    cfg = demo_cfg(root, work_dir, 0, stages, PR_DEMO_CFG, None)
    cfg.train_cfg = dict(
        type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=100)
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.train_dataloader.dataset.indices = 4
    cfg.custom_hooks[0].update(by_epoch=True, fraction=fraction)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=10)
    return cfg


@pytest.fixture(scope='module')
def four_epochs(demo_data_root, tmp_path_factory):
    """4 epochs of 2 iterations with EPOCH_STAGES, saving epoch_1 ..
    epoch_4.pth."""
    work_dir = tmp_path_factory.mktemp('pr_epochs')
    runner = Runner.from_cfg(epoch_cfg(demo_data_root, work_dir, 4))
    seen = record_inputs(runner)
    runner.train()
    return runner, seen, work_dir


def test_by_epoch_with_the_pr_lr_demo_config(four_epochs):
    runner, seen, _ = four_epochs
    want = [0.5, 0.5, 0.75, 0.75, 0.75, 0.75, 1.0, 1.0]
    assert train_sizes(seen) == [SIZE[scale] for scale in want]
    assert scales(runner) == want
    assert runner.message_hub.get_scalar('train/decode.loss_lr').current() > 0
    assert runner.model.data_preprocessor.train_scale == 1.0


def test_resume_by_epoch_in_the_middle_of_a_stage(four_epochs,
                                                  demo_data_root, tmp_path):
    """Resume from epoch_2.pth (epoch 2 is the second epoch of the 3/4
    stage) with one more epoch: both of its iterations run at 3/4 (the
    full-size stage, from epoch 3, is past this run's end: left out)."""
    _, _, work_dir = four_epochs
    cfg = epoch_cfg(demo_data_root, tmp_path / 'resumed', 3,
                    EPOCH_STAGES[:2])
    cfg.default_hooks.checkpoint = None
    cfg.resume = True
    cfg.load_from = str(work_dir / 'epoch_2.pth')
    runner = Runner.from_cfg(cfg)
    seen = record_inputs(runner)
    runner.train()
    assert (runner.epoch, runner.iter) == (3, 6)
    assert train_sizes(seen) == [SIZE[0.75], SIZE[0.75]]
    assert scales(runner)[-2:] == [0.75, 0.75]


def test_fractions_resolve_from_the_iteration_loop(six_iters):
    runner, _, _ = six_iters
    hook = ProgressiveResizeHook(FRACTIONS, fraction=True)
    hook.before_train(runner)  # runner.max_iters == 6
    assert [hook.scale_at(i) for i in range(6)] == [
        0.5, 0.5, 0.75, 0.75, 1.0, 1.0]
    late = ProgressiveResizeHook([(0, 0.5), (6, 1.0)])
    with pytest.raises(ValueError, match='training ends at iteration 6'):
        late.before_train(runner)


def test_fractions_resolve_from_the_epoch_loop(four_epochs):
    runner, _, _ = four_epochs
    # 0.3 * 4 = 1.2 -> epoch 1, 0.7 * 4 = 2.8 -> epoch 3: EPOCH_STAGES
    hook = ProgressiveResizeHook([(0, 0.5), (0.3, 0.75), (0.7, 1.0)],
                                 by_epoch=True, fraction=True)
    hook.before_train(runner)  # max_epochs == 4, 8 iterations
    assert hook.scale_at(1) == 0.75 and hook.scale_at(3) == 1.0
    assert hook._starts == [start for start, _ in EPOCH_STAGES]


def test_resume_with_fractions_in_the_middle_of_a_stage(
        six_iters, demo_data_root, tmp_path):
    """FRACTIONS over the same 6 iterations, resumed from iter_3 (the
    middle of the 3/4 stage, iterations 2-3): 3/4, then full size."""
    _, _, work_dir = six_iters
    cfg = demo_cfg(demo_data_root, tmp_path / 'resumed', 6, FRACTIONS,
                   val_interval=None)
    cfg.custom_hooks[0]['fraction'] = True
    cfg.resume = True
    cfg.load_from = str(work_dir / 'iter_3.pth')
    runner = Runner.from_cfg(cfg)
    seen = record_inputs(runner)
    runner.train()
    assert train_sizes(seen) == [SIZE[0.75], FULL, FULL]


def test_resume_by_epoch_with_fractions(four_epochs, demo_data_root,
                                        tmp_path):
    """Fractions of the 4 epochs that resolve to EPOCH_STAGES, resumed from
    epoch_2.pth: epoch 2 at 3/4, epoch 3 at full size."""
    _, _, work_dir = four_epochs
    cfg = epoch_cfg(demo_data_root, tmp_path / 'resumed', 4,
                    [(0, 0.5), (0.25, 0.75), (0.75, 1.0)], fraction=True)
    cfg.default_hooks.checkpoint = None
    cfg.resume = True
    cfg.load_from = str(work_dir / 'epoch_2.pth')
    runner = Runner.from_cfg(cfg)
    seen = record_inputs(runner)
    runner.train()
    assert train_sizes(seen) == [SIZE[0.75]] * 2 + [FULL] * 2


def test_by_epoch_in_an_iteration_loop_is_refused(six_iters):
    runner, _, _ = six_iters
    hook = ProgressiveResizeHook(STAGES, by_epoch=True)
    with pytest.raises(ValueError, match='EpochBasedTrainLoop'):
        hook.before_train(runner)


def test_scale_goes_back_to_1_after_training(six_iters):
    """A schedule that ends below full size: after training the
    preprocessor trains at full size again (the run's last stage is 1, so
    the run itself cannot show it)."""
    runner, _, _ = six_iters
    hook = ProgressiveResizeHook([(0, 0.5)])
    hook.before_train(runner)
    assert runner.model.data_preprocessor.train_scale == 0.5
    hook.after_train(runner)
    assert runner.model.data_preprocessor.train_scale == 1.0


def test_plain_preprocessor_is_refused(demo_data_root, tmp_path):
    cfg = demo_cfg(demo_data_root, tmp_path, 2)
    cfg.model.data_preprocessor.type = 'SegDataPreProcessor'
    runner = Runner.from_cfg(cfg)
    with pytest.raises(TypeError, match='ProgressiveResizeDataPreProcessor'):
        runner.train()


# ---------------------------------------------------------------------------
# the configs


GREEN_AI_HOOK = dict(type='ProgressiveResizeHook', fraction=True,
                     stages=GREEN_AI)
SAFETY_HOOKS = [dict(type='NonFiniteLossHook'), dict(type='LabelCheckHook')]
LR = dict(type='LabelRelaxationLoss', loss_weight=1.0, loss_name='loss_lr')
KEPT_LR = dict(type='KeptPixelMeanLoss',
               loss=dict(type='LabelRelaxationLoss', loss_weight=1.0))


@pytest.mark.parametrize('name, hooks, loss', [
    ('rgpnet_r18_pr-lr_demo.py', [GREEN_AI_HOOK] + SAFETY_HOOKS, LR),
    ('rgpnet_r18_pr-ce_demo.py', [GREEN_AI_HOOK] + SAFETY_HOOKS,
     dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    ('rgpnet_r18_lr_demo.py', SAFETY_HOOKS, LR),
    ('rgpnet_r18_pr-lr_cityscapes.py', [GREEN_AI_HOOK] + SAFETY_HOOKS,
     KEPT_LR),
    ('rgpnet/rgpnet_r101-d32-mapillary-pre_2xb6-pr-lr-80k_cityscapes-'
     '1024x1024.py', [GREEN_AI_HOOK] + SAFETY_HOOKS +
     [dict(type='LoadSummaryHook')], KEPT_LR)])
def test_table4_configs(name, hooks, loss):
    """Table 4's rows: Green-AI stages (9/3/3 of 15 epochs) as fractions, the
    loss of the row, OHEM (averaged over the kept pixels) where the paper
    has it, the default runtime's safety hooks kept."""
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    assert cfg.custom_hooks == hooks
    assert cfg.model.decode_head.loss_decode == loss
    assert cfg.model.data_preprocessor.type == (
        'ProgressiveResizeDataPreProcessor' if GREEN_AI_HOOK in hooks else
        'SegDataPreProcessor')
    demo = 'demo' in name
    assert (cfg.model.decode_head.sampler is None) == demo
    assert cfg.train_cfg.max_iters == (400 if demo else 80000)
    if 'r101' in name:
        assert cfg.load_from.endswith('mapillary-pre_cityscapes-init.pth')
        assert cfg.model.backbone.depth == 101


@pytest.mark.parametrize('name, want', [
    ('rgpnet_r18_pr-ce_demo.py', [0.25, 0.25, 0.25, 0.5, 1.0]),
    ('rgpnet_r18_lr_demo.py', None)])
def test_table4_demo_configs_train(demo_data_root, tmp_path, name, want):
    """5 iterations of the config's own schedule (0.6 * 5 = 3, 0.8 * 5 = 4):
    1/4 of the 64x128 test crop is 16x32, a 1x1 map at 1/32."""
    cfg = demo_cfg(demo_data_root, tmp_path, 5, cfg_file=CONFIG_DIR / name)
    cfg.custom_hooks = Config.fromfile(str(CONFIG_DIR / name)).custom_hooks
    runner = Runner.from_cfg(cfg)
    seen = record_inputs(runner)
    runner.train()
    quarter = [(16, 32)] * 3 + [SIZE[0.5], FULL]
    assert train_sizes(seen) == (quarter if want else [FULL] * 5)
    if want:
        assert scales(runner) == want
    assert runner.message_hub.get_scalar(
        'train/decode.' + ('loss_ce' if want else 'loss_lr')).current() > 0


@pytest.mark.parametrize('name', [
    'rgpnet_r18_pr-lr_cityscapes.py',
    'rgpnet/rgpnet_r101-d32-mapillary-pre_2xb6-pr-lr-80k_cityscapes-'
    '1024x1024.py'])
def test_cityscapes_pr_lr_configs_train(demo_data_root, tmp_path, name):
    """The Cityscapes PR + LR configs (OHEM, KeptPixelMeanLoss) on the demo
    data for 5 iterations of their own stages, without the ImageNet /
    Mapillary weights (no download here)."""
    cfg = demo_cfg(demo_data_root, tmp_path, 5, cfg_file=CONFIG_DIR / name)
    cfg.custom_hooks = Config.fromfile(str(CONFIG_DIR / name)).custom_hooks
    cfg.model.backbone.init_cfg = None
    cfg.load_from = None
    runner = Runner.from_cfg(cfg)
    seen = record_inputs(runner)
    runner.train()
    assert train_sizes(seen) == [(16, 32)] * 3 + [SIZE[0.5], FULL]
    assert runner.message_hub.get_scalar('train/decode.loss_lr').current() > 0


def test_configs():
    city = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_pr-lr_cityscapes.py'))
    long_name = Config.fromfile(
        str(CONFIG_DIR / 'rgpnet' /
            'rgpnet_r18-d32_2xb6-pr-lr-80k_cityscapes-1024x1024.py'))
    assert city.to_dict() == long_name.to_dict()
    # the Green-AI switches at 60 % and 80 % of the 80k iterations
    hook = HOOKS.build(city.custom_hooks[0])
    assert hook.resolve(city.train_cfg.max_iters) == [0, 48000, 64000]
    assert city.model.decode_head.sampler.type == 'OHEMPixelSampler'
    assert city.model.data_preprocessor.size == (1024, 1024)
