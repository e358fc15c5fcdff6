# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Inference for users: mmseg's own API on RGPNet, our segmenters (mmseg's
API for PyTorch, mmdeploy's task processor for deployed models) against
``mmseg.apis.inference_model``, and tools/infer.py on an image, a folder
with a corrupt file in it and a video.

The model is the demo config trained for 2 iterations by a real mmengine
Runner (so the checkpoint is what users get, meta and all)."""
import importlib.util
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from .conftest import CONFIG_DIR, REPO_ROOT, load_tool

DEMO_CFG = str(CONFIG_DIR / 'rgpnet_r18_demo.py')
DEPLOY_CFGS = REPO_ROOT / 'configs' / 'deploy'


pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.fixture(scope='module')
def val_images(demo_data_root):
    return sorted(
        str(p) for p in (demo_data_root / 'leftImg8bit' / 'val').rglob(
            '*.png'))


@pytest.fixture(scope='module')
def checkpoint(demo_data_root, tmp_path_factory):
    """2 iterations of the demo config with mmengine's Runner."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    import rgpnet_mmseg  # noqa: F401
    work_dir = tmp_path_factory.mktemp('infer_ckpt')
    cfg = Config.fromfile(DEMO_CFG)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.dataset.data_root = str(demo_data_root)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.log_level = 'WARNING'
    Runner.from_cfg(cfg).train()
    return str(work_dir / 'iter_2.pth')


@pytest.fixture(scope='module')
def segmenter(checkpoint):
    from rgpnet_mmseg.apis import PytorchSegmenter
    return PytorchSegmenter(DEMO_CFG, checkpoint)


def mmseg_labels(model, image) -> np.ndarray:
    """What mmseg's own API says, as the reference. (mmseg 1.2.2's
    inference_model leaves the model's loader switched to
    LoadImageFromNDArray after an array: switch it back for a path.)"""
    from mmseg.apis import inference_model
    if isinstance(image, str):
        model.cfg.test_pipeline[0]['type'] = 'LoadImageFromFile'
    return inference_model(model, image).pred_sem_seg.data[0].numpy()


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float((a == b).mean())


# --------------------------------------------------------------------------
# PyTorch: mmseg's own API
# --------------------------------------------------------------------------
def test_pytorch_segmenter_equals_mmseg_api(checkpoint, segmenter,
                                            val_images, tmp_path):
    from mmseg.apis import MMSegInferencer, show_result_pyplot
    inferencer = MMSegInferencer(
        model=DEMO_CFG, weights=checkpoint, device='cpu')
    assert inferencer.model.dataset_meta['classes'][0] == 'road'
    results = inferencer(val_images[:2], return_datasamples=True)
    for path, result in zip(val_images[:2], results):
        ref = mmseg_labels(segmenter.model, path)
        assert np.array_equal(result.pred_sem_seg.data[0].numpy(), ref)
        assert np.array_equal(segmenter(path), ref)
    # another size goes through Resize and comes back at its own size
    image = cv2.resize(cv2.imread(val_images[0]), (300, 100))
    assert segmenter(image).shape == (100, 300)
    assert np.array_equal(segmenter(image), mmseg_labels(segmenter.model,
                                                         image))
    drawn = show_result_pyplot(segmenter.model, val_images[0],
                               results[0], show=False,
                               out_file=str(tmp_path / 'pyplot.png'))
    assert drawn.shape == cv2.imread(val_images[0]).shape


# --------------------------------------------------------------------------
# tools/infer.py
# --------------------------------------------------------------------------
def test_infer_one_image(checkpoint, segmenter, val_images, tmp_path,
                         capsys):
    infer = load_tool('infer')
    rc = infer.main([
        DEMO_CFG, checkpoint, val_images[0], '--out',
        str(tmp_path), '--save-labels', '--opacity', '0.6'
    ])
    out = capsys.readouterr().out
    assert rc == 0
    name = Path(val_images[0]).name
    vis = cv2.imread(str(tmp_path / 'vis' / name))
    labels = cv2.imread(str(tmp_path / 'pred' / name), cv2.IMREAD_UNCHANGED)
    image = cv2.imread(val_images[0])
    assert labels.dtype == np.uint8
    expected = mmseg_labels(segmenter.model, val_images[0])
    assert np.array_equal(labels, expected)
    # the overlay: 0.4 image + 0.6 Cityscapes colour of the class
    assert segmenter.palette[0] == [128, 64, 128]  # road
    colors = np.asarray(segmenter.palette, np.float64)[expected][..., ::-1]
    assert np.abs(vis - (0.4 * image + 0.6 * colors)).max() <= 1
    assert 'Segmented 1 image in' in out and 'per second' in out


def test_infer_folder_with_a_corrupt_file(checkpoint, val_images, tmp_path,
                                          capsys):
    src = tmp_path / 'in'
    (src / 'sub').mkdir(parents=True)
    shutil.copy(val_images[0], src / 'a.png')
    shutil.copy(val_images[1], src / 'sub' / 'b.jpg')
    (src / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n truncated')
    (src / 'notes.txt').write_text('not an image, left alone')
    infer = load_tool('infer')
    rc = infer.main([
        DEMO_CFG, checkpoint,
        str(src), '--out',
        str(tmp_path / 'out'), '--save-labels', '--threads', '1'
    ])
    captured = capsys.readouterr()
    assert rc == 1  # some input failed; the others are written
    broken = str(src / 'broken.png')
    assert f'cannot read image {broken}' in captured.err
    assert captured.err.rstrip().endswith(broken)  # named again at the end
    assert 'Segmented 2 images' in captured.out and '1 input failed' in \
        captured.out
    vis = sorted(p.relative_to(tmp_path / 'out' / 'vis').as_posix()
                 for p in (tmp_path / 'out' / 'vis').rglob('*.png'))
    assert vis == ['a.png', 'sub/b.png']
    assert (tmp_path / 'out' / 'pred' / 'sub' / 'b.png').is_file()


@pytest.mark.parametrize('threads', [True, False])
def test_infer_video_labels_every_frame_in_order(checkpoint, segmenter,
                                                 val_images, tmp_path,
                                                 capsys, threads):
    """Each frame's label PNG is the segmentation of that frame of the
    input video (decoded here independently), in order; the frames differ,
    so a blank, repeated or shifted frame would show."""
    video = str(tmp_path / 'clip.mp4')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'mp4v'), 12.0,
                             (256, 128))
    for path in val_images[:6]:
        writer.write(cv2.imread(path))
    writer.release()
    infer = load_tool('infer')
    rc = infer.main([
        DEMO_CFG, checkpoint, video, '--out',
        str(tmp_path / 'out'), '--save-labels', '--show-fps'
    ] + ([] if threads else ['--no-video-threads']))
    assert rc == 0
    assert 'Segmented 6 video frames' in capsys.readouterr().out
    cap = cv2.VideoCapture(video)
    expected = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        expected.append(mmseg_labels(segmenter.model, frame))
    cap.release()
    written = sorted((tmp_path / 'out' / 'pred' / 'clip').glob('*.png'))
    assert [p.name for p in written] == [f'{i:06d}.png' for i in range(6)]
    assert len(expected) == 6
    for i, (path, labels) in enumerate(zip(written, expected)):
        assert np.array_equal(
            cv2.imread(str(path), cv2.IMREAD_UNCHANGED), labels), i
        if i:
            assert not np.array_equal(labels, expected[i - 1])
    out = cv2.VideoCapture(str(tmp_path / 'out' / 'vis' / 'clip.mp4'))
    assert out.get(cv2.CAP_PROP_FPS) == pytest.approx(12.0)
    assert out.get(cv2.CAP_PROP_FRAME_COUNT) == 6
    assert out.read()[1].shape == (128, 256, 3)
    out.release()


def test_infer_refuses_what_it_cannot_use(checkpoint, tmp_path, capsys):
    infer = load_tool('infer')
    assert infer.main([DEMO_CFG, checkpoint, str(tmp_path / 'nope.png'),
                       '--out', str(tmp_path)]) == 2
    assert f'Input not found: {tmp_path / "nope.png"}' in \
        capsys.readouterr().err
    image = tmp_path / 'x.png'
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    assert infer.main([DEMO_CFG, str(tmp_path / 'none.pth'), str(image),
                       '--out', str(tmp_path)]) == 2
    assert f'Checkpoint file not found: {tmp_path / "none.pth"}' in \
        capsys.readouterr().err
    assert infer.main([DEMO_CFG, checkpoint, str(image), '--out',
                       str(tmp_path), '--backend', 'onnxruntime']) == 2
    assert 'is a pytorch model, not onnxruntime' in capsys.readouterr().err
    assert infer.main([DEMO_CFG, str(image), '--out', str(tmp_path)]) == 2
    assert 'is a config: name its checkpoint' in capsys.readouterr().err
    assert infer.main([str(tmp_path), str(image), '--out',
                       str(tmp_path / 'o')]) == 2
    assert f'{tmp_path} has no deploy_cfg.py' in capsys.readouterr().err


def test_read_frames_gives_every_frame_in_order(tmp_path):
    from rgpnet_mmseg.apis import open_video, read_frames
    video = str(tmp_path / 'count.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5.0,
                             (32, 16))
    for i in range(20):
        writer.write(np.full((16, 32, 3), i * 12, np.uint8))
    writer.release()
    cap, fps, count, size = open_video(video)
    assert (fps, count, size) == (5.0, 20, (32, 16))
    means = [f.mean() for f in read_frames(cap)]
    assert np.allclose(means, np.arange(20) * 12, atol=3)
    # stopping early stops the reader thread
    frames = read_frames(open_video(video)[0])
    next(frames)
    frames.close()
    import threading
    assert not any(t.name.startswith('FrameReader')
                   for t in threading.enumerate())


# --------------------------------------------------------------------------
# deployed models: mmdeploy's task processor, our postprocessing
# --------------------------------------------------------------------------
def test_postprocess_resizes_logits_then_argmax():
    """Logits: crop the padding, resize bilinearly, argmax (mmseg's way;
    with_logits: the resized logits too); labels: crop, resize nearest -
    against torch's own ops."""
    import torch.nn.functional as F
    from mmseg.structures import SegDataSample
    from rgpnet_mmseg.deploy.postprocess import postprocess
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 5, 12, 20, generator=g)
    meta = dict(ori_shape=(33, 70), img_shape=(10, 18),
                padding_size=[0, 2, 0, 2])
    ref = F.interpolate(logits[..., :10, :18], (33, 70), mode='bilinear')
    for with_logits in (False, True):
        out = postprocess(logits, [SegDataSample(metainfo=meta)], False,
                          with_logits=with_logits)[0]
        assert torch.equal(out.pred_sem_seg.data[0], ref[0].argmax(0))
    torch.testing.assert_close(out.seg_logits.data, ref[0])
    labels = logits.argmax(1, keepdim=True)
    out = postprocess(labels, [SegDataSample(metainfo=meta)], False)[0]
    ref = F.interpolate(labels[..., :10, :18].float(), (33, 70))
    assert torch.equal(out.pred_sem_seg.data, ref[0].long())


@pytest.fixture(scope='module')
def onnx_dir(checkpoint, val_images, tmp_path_factory):
    """tools/deploy.py's ONNX Runtime conversion of the demo model with the
    default ONNX Runtime deploy config (dynamic shapes, logits out)."""
    out = tmp_path_factory.mktemp('deploy_ort')
    rc = load_tool('deploy').main([
        str(DEPLOY_CFGS / 'segmentation_onnxruntime_dynamic.py'), DEMO_CFG,
        checkpoint, val_images[0], '--work-dir',
        str(out), '--no-parity', '--log-level', 'WARNING'
    ])
    assert rc == 0
    assert {p.name for p in out.iterdir()} >= {
        'end2end.onnx', 'deploy_cfg.py', 'model_cfg.py'
    }
    return out


@pytest.mark.parametrize('size', [(333, 777), (97, 203), (1024, 2048)])
def test_deployed_onnxruntime_agrees_with_mmseg(segmenter, onnx_dir,
                                                val_images, size):
    """The acceptance: the default ONNX Runtime deployment, run as
    tools/infer.py runs it, gives mmseg.apis.inference_model's labels on
    >= 99.9 % of the pixels at any image size."""
    from rgpnet_mmseg.apis import DeployedSegmenter, build_segmenter
    ort = build_segmenter(str(onnx_dir), num_threads=1)
    assert isinstance(ort, DeployedSegmenter) and ort.backend == \
        'onnxruntime'
    assert ort.classes == segmenter.classes
    assert ort.palette == segmenter.palette
    image = cv2.resize(cv2.imread(val_images[1]), size[::-1])
    assert agreement(ort(image), mmseg_labels(segmenter.model,
                                              image)) >= 0.999


def test_infer_tool_on_a_deployed_dir(segmenter, onnx_dir, val_images,
                                      tmp_path, capsys):
    infer = load_tool('infer')
    rc = infer.main([str(onnx_dir), val_images[0], '--out', str(tmp_path),
                     '--save-labels', '--threads', '1'])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.startswith('onnxruntime segmenter, 19 classes')
    name = Path(val_images[0]).name
    labels = cv2.imread(str(tmp_path / 'pred' / name), cv2.IMREAD_UNCHANGED)
    assert agreement(labels, mmseg_labels(segmenter.model,
                                          val_images[0])) >= 0.999
    # the model file named inside the dir; a config with the model file
    for args in ([str(onnx_dir), 'end2end.onnx'],
                 [DEMO_CFG, str(onnx_dir / 'end2end.onnx')]):
        assert infer.main(args + [val_images[1], '--out', str(
            tmp_path / 'b')]) == 0
    assert (tmp_path / 'b' / 'vis' / Path(val_images[1]).name).is_file()
    assert infer.main([str(onnx_dir), 'gone.onnx', val_images[1], '--out',
                       str(tmp_path)]) == 2
    assert 'ONNX model file not found: gone.onnx' in capsys.readouterr().err
    moved = tmp_path / 'moved'
    shutil.copytree(onnx_dir, moved)
    (moved / 'model_cfg.py').unlink()
    (moved / 'detail.json').unlink()
    assert infer.main([str(moved), val_images[1], '--out',
                       str(tmp_path)]) == 2
    assert f'{moved} has no model_cfg.py' in capsys.readouterr().err


def test_deployed_argmax_in_graph(segmenter, checkpoint, val_images,
                                  tmp_path):
    """The option: a label map out of the graph (tools/deploy.py --argmax)
    is resized nearest-neighbour; at the model's input size nothing is
    resized and the labels are PyTorch's."""
    from rgpnet_mmseg.apis import build_segmenter
    assert load_tool('deploy').main([
        str(DEPLOY_CFGS / 'segmentation_onnxruntime_dynamic.py'), DEMO_CFG,
        checkpoint, val_images[0], '--work-dir', str(tmp_path), '--argmax',
        '--no-parity', '--log-level', 'WARNING'
    ]) == 0
    labels = build_segmenter(str(tmp_path), num_threads=1)
    for path in val_images[:2]:  # 128 x 256, the test pipeline's size
        assert agreement(labels(path), mmseg_labels(segmenter.model,
                                                    path)) >= 0.999
    assert labels(cv2.resize(cv2.imread(val_images[0]),
                             (203, 97))).shape == (97, 203)


def _tensorrt_missing_reason():
    if importlib.util.find_spec('tensorrt') is None:
        return 'TensorRT is not installed (needs an NVIDIA GPU and CUDA)'
    if not torch.cuda.is_available():
        return 'no CUDA device'
    return None


@pytest.mark.skipif(
    _tensorrt_missing_reason() is not None,
    reason=f'tensorrt backend: {_tensorrt_missing_reason()}')
def test_tensorrt_agrees_with_onnxruntime(checkpoint, val_images, tmp_path):
    """tools/deploy.py builds a static TensorRT engine; tools/infer.py's
    path runs it and, with --backend onnxruntime, the same dir's ONNX file
    (the same static input): the labels agree."""
    from rgpnet_mmseg.apis import build_segmenter
    rc = load_tool('deploy').main([
        str(DEPLOY_CFGS / 'segmentation_tensorrt_static-512x1024.py'),
        DEMO_CFG, checkpoint, val_images[0], '--work-dir',
        str(tmp_path), '--device', 'cuda:0', '--no-parity', '--no-miou'
    ])
    assert rc == 0
    trt = build_segmenter(str(tmp_path))  # end2end.engine, on cuda:0
    ort = build_segmenter(str(tmp_path), backend='onnxruntime')
    assert (trt.backend, ort.backend) == ('tensorrt', 'onnxruntime')
    for path in val_images[:2]:
        image = cv2.resize(cv2.imread(path), (777, 333))
        assert agreement(trt(image), ort(image)) >= 0.999


def test_deployed_segmenter_stays_within_a_profile(onnx_dir, val_images,
                                                   tmp_path):
    """A TensorRT engine's input range (here from a deploy config's
    profile, as the engine would report it, and checked before the ONNX
    Runtime run as TRTWrapper checks it) bounds the batches, and an image
    outside it is skipped with one line naming it (tools/infer.py exits 1),
    the others are written."""
    from mmengine.config import Config

    from rgpnet_mmseg.apis import InferenceRunner, InputShapeError
    from rgpnet_mmseg.apis import build_segmenter
    from rgpnet_mmseg.deploy.backends.tensorrt import (check_input_shape,
                                                       config_input_range)
    seg = build_segmenter(str(onnx_dir), num_threads=1)
    assert seg.input_range is None  # ONNX Runtime: any shape
    ref = [seg(p) for p in val_images[:3]]
    run = seg.model.wrapper.forward

    def checked(inputs):  # TRTWrapper.forward's check, then ONNX Runtime
        check_input_shape('input', tuple(inputs['input'].shape),
                          *seg.input_range)
        return run(inputs)

    seg.model.wrapper.forward = checked
    profile = dict(min_shape=[1, 3, 64, 128], opt_shape=[1, 3, 128, 256],
                   max_shape=[2, 3, 256, 512])
    seg.input_range = config_input_range(Config(dict(backend_config=dict(
        model_inputs=[dict(input_shapes=dict(input=profile))]))))
    assert seg.input_range == ((1, 3, 64, 128), (2, 3, 256, 512))
    batches = []
    predict = seg._predict
    seg._predict = lambda images: batches.append(len(images)) or predict(
        images)
    images = [cv2.imread(p) for p in val_images[:3]]
    out = seg.predict(images)
    assert batches == [2, 1]
    for sample, labels in zip(out, ref):
        assert np.array_equal(sample.pred_sem_seg.data[0].numpy(), labels)
    big = tmp_path / 'big.png'  # 256 x 512 after the test pipeline: fits
    cv2.imwrite(str(big), cv2.resize(images[0], (1024, 512)))
    assert seg(str(big)).shape == (512, 1024)
    seg.input_range = ((1, 3, 64, 128), (1, 3, 64, 128))
    with pytest.raises(InputShapeError, match='outside the engine'):
        seg(images[0])
    runner = InferenceRunner(seg, str(tmp_path / 'out'), progress=False)
    runner.run([val_images[0]])
    (path, message), = runner.failed
    assert path == val_images[0] and '\n' not in message
    assert message == (
        f"skipped {path}: Input 'input' of shape 1x3x128x256 is outside the "
        "engine's range 1x3x64x128 .. 1x3x64x128 (NxCxHxW after the test "
        'pipeline; build the engine with a profile that holds it)')
    assert runner.images == 0


@pytest.mark.skipif(
    _tensorrt_missing_reason() is not None,
    reason=f'tensorrt backend: {_tensorrt_missing_reason()}')
def test_tensorrt_dynamic_engine_in_infer(checkpoint, val_images, tmp_path,
                                          capsys):
    """A dynamic engine: its range read back from the engine bounds the
    batches; tools/infer.py names an image outside it in one line, exit 1,
    and writes the others."""
    from rgpnet_mmseg.apis import build_segmenter
    cfg = tmp_path / 'trt_dyn.py'
    cfg.write_text(
        f"_base_ = ['{DEPLOY_CFGS}/segmentation_tensorrt_dynamic-512x1024-"
        "1024x2048.py']\nbackend_config = dict(model_inputs=[dict(input_"
        "shapes=dict(input=dict(min_shape=[1, 3, 64, 128], opt_shape=[1, 3, "
        "128, 256], max_shape=[2, 3, 256, 512])))])\n")
    work = tmp_path / 'trt'
    assert load_tool('deploy').main([
        str(cfg), DEMO_CFG, checkpoint, val_images[0], '--work-dir',
        str(work), '--device', 'cuda:0', '--no-parity', '--no-miou']) == 0
    trt = build_segmenter(str(work))
    ort = build_segmenter(str(work), backend='onnxruntime')
    assert trt.input_range == ((1, 3, 64, 128), (2, 3, 256, 512))
    images = [cv2.imread(p) for p in val_images[:3]]
    for sample, image in zip(trt.predict(images), images):
        assert agreement(sample.pred_sem_seg.data[0].cpu().numpy(),
                         ort(image)) >= 0.999
    thin = tmp_path / 'in' / 'thin.png'  # 26 x 256 after the test pipeline
    thin.parent.mkdir()
    cv2.imwrite(str(thin), cv2.resize(images[0], (1000, 100)))
    cv2.imwrite(str(tmp_path / 'in' / 'ok.png'), images[1])
    capsys.readouterr()
    assert load_tool('infer').main([str(work), str(thin.parent), '--out',
                                    str(tmp_path / 'out')]) == 1
    err = capsys.readouterr().err
    line, = [s for s in err.splitlines() if 'outside' in s]
    assert line.startswith(f'skipped {thin}: ') and \
        "is outside the engine's range 1x3x64x128 .. 2x3x256x512" in line
    assert (tmp_path / 'out' / 'vis' / 'ok.png').is_file()
