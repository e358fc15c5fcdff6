# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""On a CUDA device, the head, the label-relaxation loss, the segmentor's
inference and one training step give the CPU's results (float32, TF32
off). Skipped without CUDA; run them where a GPU is lent with
``python -m pytest -q tests/test_cuda.py``."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

import rgpnet_mmseg  # noqa: F401  (registers RGPHead & co.)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from rgpnet_mmseg.models.losses import LabelRelaxationLoss
from .conftest import CONFIG_DIR, randomize_bn

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason='needs a CUDA device (compares GPU and CPU results)')

IGNORE = 255
NUM_CLASSES = 19
CUDA = torch.device('cuda')


@pytest.fixture(autouse=True)
def no_tf32():
    """Plain float32 matmuls and convolutions on the GPU (TF32 rounds the
    inputs to 10 mantissa bits), restored afterwards."""
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    (torch.backends.cuda.matmul.allow_tf32,
     torch.backends.cudnn.allow_tf32) = saved


def assert_close_float32(got: torch.Tensor, want: torch.Tensor) -> None:
    """Equal to float32 rounding through a deep network: elementwise within
    1e-4 relative, or 1e-4 of the largest magnitude (values near 0 are
    differences of much larger intermediate values)."""
    scale = want.abs().max().item()
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * scale)


def demo_segmentor() -> torch.nn.Module:
    """configs/rgpnet_r18_pr-lr_demo.py's model (ResNet-18 + RGPHead +
    LabelRelaxationLoss, plain BN, no pretrained weights) on the CPU."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(CONFIG_DIR / 'rgpnet_r18_pr-lr_demo.py'))
    assert cfg.model.decode_head.loss_decode.type == 'LabelRelaxationLoss'
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def test_head_eval_forward_matches_cpu():
    """RGPHead at an odd input size (65 x 97, ceil-halved levels: the
    crop/pad alignment runs at every level)."""
    init_default_scope('mmseg')
    torch.manual_seed(0)
    head = MODELS.build(
        dict(
            type='RGPHead',
            in_channels=(64, 128, 256, 512),
            channels=64,
            num_classes=5,
            norm_cfg=dict(type='BN', requires_grad=True)))
    randomize_bn(head, seed=1)
    head.eval()
    g = torch.Generator().manual_seed(2)
    sizes = [(17, 25), (9, 13), (5, 7), (3, 4)]
    feats = [
        torch.randn(2, c, *s, generator=g)
        for c, s in zip((64, 128, 256, 512), sizes)
    ]
    with torch.no_grad():
        cpu = head(feats)
        gpu = copy.deepcopy(head).to(CUDA)([f.to(CUDA) for f in feats])
    assert gpu.is_cuda and gpu.shape == cpu.shape == (2, 5, 17, 25)
    assert_close_float32(gpu.cpu(), cpu)


def test_label_relaxation_loss_value_and_gradient_match_cpu():
    """Blocky labels (borders between blocks) with ignored pixels: the same
    loss and the same gradient w.r.t. the logits on both devices."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, NUM_CLASSES, 37, 53, generator=g) * 3
    coarse = torch.randint(0, NUM_CLASSES, (2, 1, 10, 14), generator=g)
    label = F.interpolate(coarse.float(), scale_factor=4)[:, 0, :37, :53]
    label = label.long()
    label[torch.rand(label.shape, generator=g) < 0.1] = IGNORE
    loss_fn = LabelRelaxationLoss(avg_non_ignore=True)
    results = []
    for device in ('cpu', CUDA):
        x = logits.to(device).requires_grad_()
        loss = loss_fn(x, label.to(device), ignore_index=IGNORE)
        loss.backward()
        assert loss.device.type == torch.device(device).type
        results.append((loss.detach().cpu(), x.grad.cpu()))
    (cpu_loss, cpu_grad), (gpu_loss, gpu_grad) = results
    assert torch.isfinite(cpu_loss) and cpu_loss > 0
    assert cpu_grad.abs().sum() > 0
    # float32 sums in another order: a few ulp of the total
    torch.testing.assert_close(gpu_loss, cpu_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gpu_grad, cpu_grad, rtol=1e-5, atol=1e-8)


def test_segmentor_inference_matches_cpu():
    """The whole segmentor in eval mode: the 1/4-size logits agree to
    float32 rounding, and so do the full-size predicted labels (but for
    pixels whose two best logits are within rounding of each other)."""
    model = demo_segmentor()
    randomize_bn(model, seed=3)
    model.eval()
    g = torch.Generator().manual_seed(4)
    img = torch.randn(1, 3, 67, 131, generator=g)
    with torch.no_grad():
        cpu_logits = model(img, mode='tensor')
        cpu_pred = model.predict(img)[0].pred_sem_seg.data
        gpu_model = copy.deepcopy(model).to(CUDA)
        gpu_logits = gpu_model(img.to(CUDA), mode='tensor')
        gpu_pred = gpu_model.predict(img.to(CUDA))[0].pred_sem_seg.data
    assert gpu_logits.is_cuda and gpu_pred.is_cuda
    assert_close_float32(gpu_logits.cpu(), cpu_logits)
    assert gpu_pred.shape == cpu_pred.shape == (1, 67, 131)
    assert (gpu_pred.cpu() == cpu_pred).float().mean() >= 0.999


def training_batch() -> dict:
    """A dataloader batch of two 64x128 uint8 images with blocky labels
    and some ignored pixels (as PackSegInputs gives it)."""
    g = torch.Generator().manual_seed(5)
    inputs, samples = [], []
    for _ in range(2):
        inputs.append(torch.randint(0, 256, (3, 64, 128), dtype=torch.uint8,
                                    generator=g))
        coarse = torch.randint(0, NUM_CLASSES, (1, 1, 8, 16), generator=g)
        label = F.interpolate(coarse.float(), scale_factor=8)[0].long()
        label[torch.rand(label.shape, generator=g) < 0.05] = IGNORE
        sample = SegDataSample(
            metainfo=dict(img_shape=(64, 128), ori_shape=(64, 128)))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def two_train_steps(model: torch.nn.Module, device) -> tuple:
    """Two ``train_step`` calls with plain SGD on the same batch: the loss
    before and after one SGD step, and the classifier's updated weight."""
    model = copy.deepcopy(model).to(device).train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    first = model.train_step(training_batch(), optim)
    second = model.train_step(training_batch(), optim)
    return (float(first['loss'].detach()), float(second['loss'].detach()),
            model.decode_head.conv_seg.weight.detach().cpu())


def test_one_training_step_matches_cpu():
    """Train mode (BN batch statistics), the data preprocessor on the
    device, the label-relaxation loss, backward and one SGD step: the loss
    before and after the step and the updated classifier agree."""
    model = demo_segmentor()
    before_cpu, after_cpu, w_cpu = two_train_steps(model, 'cpu')
    before_gpu, after_gpu, w_gpu = two_train_steps(model, CUDA)
    assert before_cpu > 0 and after_cpu != before_cpu  # the step did move
    assert before_gpu == pytest.approx(before_cpu, rel=1e-4)
    assert after_gpu == pytest.approx(after_cpu, rel=1e-3)
    torch.testing.assert_close(w_gpu, w_cpu, rtol=1e-3, atol=1e-5)
