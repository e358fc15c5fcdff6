# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Inference for users: mmseg's own inference API on RGPNet, our
PyTorch / ONNX Runtime / TensorRT segmenters, and tools/infer.py on an
image, a folder with a corrupt file in it and a video.

The model is the demo config trained for 2 iterations by a real mmengine
Runner (so the checkpoint is what users get, meta and all)."""
import importlib.util
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from .conftest import CONFIG_DIR, REPO_ROOT

DEMO_CFG = str(CONFIG_DIR / 'rgpnet_r18_demo.py')


def load_tool(name):
    """A tool's module (tools/ is no package), to call its main()."""
    spec = importlib.util.spec_from_file_location(
        f'_tool_{name}', REPO_ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module', autouse=True)
def one_torch_thread():
    """One intra-op thread while these tests run: on the shared 2-core
    machine, 2 threads under load were 3-6 times slower than one (a demo
    training iteration: 8.4 s against 1.3 s at load 9)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    cfg.train_cfg.val_interval = 1000
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_dataloader.dataset.data_root = str(demo_data_root)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.log_level = 'WARNING'
    Runner.from_cfg(cfg).train()
    path = work_dir / 'iter_2.pth'
    assert path.is_file()
    return str(path)


@pytest.fixture(scope='module')
def segmenter(checkpoint):
    from rgpnet_mmseg.apis import PytorchSegmenter
    return PytorchSegmenter(DEMO_CFG, checkpoint)


# --------------------------------------------------------------------------
# mmseg's own API, unchanged
# --------------------------------------------------------------------------
def test_mmseg_inferencer_equals_inference_model(checkpoint, segmenter,
                                                 val_images, tmp_path):
    from mmseg.apis import (MMSegInferencer, inference_model,
                            show_result_pyplot)
    images = val_images[:2]
    inferencer = MMSegInferencer(
        model=DEMO_CFG, weights=checkpoint, device='cpu')
    assert inferencer.model.dataset_meta['classes'][0] == 'road'
    results = inferencer(images, return_datasamples=True)
    # `segmenter.model` is mmseg.apis.init_model(DEMO_CFG, checkpoint)
    for image, result in zip(images, results):
        ref = inference_model(segmenter.model, image)
        assert torch.equal(result.pred_sem_seg.data, ref.pred_sem_seg.data)
        # our PyTorch segmenter: the same labels as mmseg's API
        assert np.array_equal(segmenter(image),
                              ref.pred_sem_seg.data[0].numpy())
    drawn = show_result_pyplot(
        segmenter.model, images[0], ref, show=False,
        out_file=str(tmp_path / 'pyplot.png'))
    assert drawn.shape == cv2.imread(images[0]).shape
    assert (tmp_path / 'pyplot.png').is_file()


def test_pytorch_segmenter_resizes_as_mmseg(segmenter, val_images):
    """An image of another size goes through Resize (keep ratio) and comes
    back at its own size, as with inference_model."""
    from mmseg.apis import inference_model
    image = cv2.resize(cv2.imread(val_images[0]), (300, 100))
    ours = segmenter(image)
    ref = inference_model(segmenter.model, image).pred_sem_seg.data[0]
    assert ours.shape == (100, 300)
    assert np.array_equal(ours, ref.numpy())


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
    assert vis.shape == image.shape
    assert labels.dtype == np.uint8 and labels.shape == image.shape[:2]
    expected = segmenter(image)
    assert np.array_equal(labels, expected)
    # the overlay: 0.4 image + 0.6 Cityscapes colour of the class
    from rgpnet_mmseg.apis import overlay
    assert np.array_equal(vis, overlay(image, expected, segmenter.palette,
                                       0.6))
    assert segmenter.palette[0] == [128, 64, 128]  # road
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
    assert not (tmp_path / 'out' / 'vis' / 'broken.png').exists()


def test_infer_video_keeps_frames_and_fps(checkpoint, val_images, tmp_path,
                                          capsys):
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
    ])
    assert rc == 0
    assert 'Segmented 6 video frames' in capsys.readouterr().out
    cap = cv2.VideoCapture(str(tmp_path / 'out' / 'vis' / 'clip.mp4'))
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(12.0)
    frames = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (128, 256, 3)
        frames += 1
    cap.release()
    assert frames == 6
    assert len(list((tmp_path / 'out' / 'pred' / 'clip').glob('*.png'))) == 6


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


def test_frame_reader_thread_gives_every_frame_in_order(tmp_path):
    from rgpnet_mmseg.apis import FrameReader, open_video
    video = str(tmp_path / 'count.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5.0,
                             (32, 16))
    for i in range(20):
        writer.write(np.full((16, 32, 3), i * 12, np.uint8))
    writer.release()
    cap, fps, count, size = open_video(video)
    assert (fps, count, size) == (5.0, 20, (32, 16))
    means = [f.mean() for f in FrameReader(cap, maxsize=2)]
    assert len(means) == 20
    assert np.allclose(means, np.arange(20) * 12, atol=3)
    # stopping early leaves no thread behind
    cap, *_ = open_video(video)
    reader = FrameReader(cap, maxsize=2)
    next(iter(reader))
    reader.close()
    assert reader._thread is None


# --------------------------------------------------------------------------
# deployed backends
# --------------------------------------------------------------------------
@pytest.fixture(scope='module')
def onnx_dir(checkpoint, val_images, tmp_path_factory):
    """tools/deploy.py's ONNX Runtime conversion of the demo model (dynamic
    shapes, label map out): end2end.onnx + mmdeploy's deploy.json,
    pipeline.json and detail.json."""
    out = tmp_path_factory.mktemp('deploy_ort')
    deploy = load_tool('deploy')
    rc = deploy.main([
        str(REPO_ROOT / 'configs' / 'deploy' /
            'segmentation_onnxruntime_dynamic.py'), DEMO_CFG, checkpoint,
        val_images[0], '--work-dir',
        str(out), '--no-parity', '--log-level', 'WARNING'
    ])
    assert rc == 0
    assert {p.name for p in out.iterdir()} >= {
        'end2end.onnx', 'pipeline.json', 'deploy.json', 'detail.json'
    }
    return out


def test_preprocessing_from_pipeline_json_equals_config(onnx_dir,
                                                        val_images):
    """The deployed dir's pipeline.json and the model config describe the
    same preprocessing; a static model's input size is honoured."""
    from rgpnet_mmseg.apis import Preprocessor
    from rgpnet_mmseg.apis.inference import load_config
    a = Preprocessor.from_pipeline_json(str(onnx_dir / 'pipeline.json'))
    b = Preprocessor.from_config(load_config(DEMO_CFG))
    image = cv2.resize(cv2.imread(val_images[0]), (320, 200))
    (xa, ma), (xb, mb) = a(image), b(image)
    assert ma == mb == dict(
        ori_shape=(200, 320), img_shape=(128, 205), pad_shape=(128, 205))
    assert np.array_equal(xa, xb)
    x, meta = a(image, input_size=(128, 256))
    assert x.shape == (3, 128, 256) and meta['img_shape'] == (128, 256)


def test_onnxruntime_matches_pytorch(segmenter, onnx_dir, val_images):
    from rgpnet_mmseg.apis import OnnxRuntimeSegmenter, build_segmenter
    ort = build_segmenter(str(onnx_dir))
    assert isinstance(ort, OnnxRuntimeSegmenter)
    assert ort.input_size is None  # dynamic height and width
    assert ort.classes == segmenter.classes
    assert ort.palette == segmenter.palette
    same = total = 0
    for image in val_images[:4]:
        a, b = segmenter(image), ort(image)
        assert a.shape == b.shape
        same += int((a == b).sum())
        total += a.size
    assert same / total >= 0.999, f'{same / total:.5f}'


def test_deployed_dir_without_its_config(onnx_dir, val_images, tmp_path):
    """A deployed dir moved away from the model config that detail.json
    names still runs: preprocessing from pipeline.json, class names and
    palette by the class count (as mmseg's init_model does)."""
    import json
    from rgpnet_mmseg.apis import build_segmenter
    moved = tmp_path / 'moved'
    shutil.copytree(onnx_dir, moved)
    detail = json.loads((moved / 'detail.json').read_text())
    detail['codebase']['config'] = str(tmp_path / 'gone.py')
    (moved / 'detail.json').write_text(json.dumps(detail))
    ort = build_segmenter(str(moved))
    assert ort.classes[:2] == ['road', 'sidewalk']
    assert ort(val_images[0]).shape == (128, 256)


def test_infer_tool_on_a_deployed_dir(onnx_dir, val_images, tmp_path,
                                      capsys):
    infer = load_tool('infer')
    rc = infer.main([str(onnx_dir), val_images[0], '--out', str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.startswith('onnxruntime segmenter, 19 classes')
    assert (tmp_path / 'vis' / Path(val_images[0]).name).is_file()
    # the model file named inside the dir
    rc = infer.main([
        str(onnx_dir), 'end2end.onnx', val_images[1], '--out',
        str(tmp_path)
    ])
    assert rc == 0
    assert (tmp_path / 'vis' / Path(val_images[1]).name).is_file()
    # the model file named explicitly, with a config instead of the dir
    rc = infer.main([
        DEMO_CFG, str(onnx_dir / 'end2end.onnx'), val_images[0], '--out',
        str(tmp_path / 'b'), '--save-labels'
    ])
    assert rc == 0
    assert (tmp_path / 'b' / 'pred' / Path(val_images[0]).name).is_file()


def _tensorrt_missing_reason():
    if importlib.util.find_spec('tensorrt') is None:  # no mmdeploy import
        return 'TensorRT is not installed (needs an NVIDIA GPU and CUDA)'
    from rgpnet_mmseg.deploy.tensorrt import tensorrt_unavailable_reason
    return tensorrt_unavailable_reason()


@pytest.mark.skipif(
    _tensorrt_missing_reason() is not None,
    reason=f'tensorrt backend: {_tensorrt_missing_reason()}')
def test_tensorrt_matches_pytorch(segmenter, onnx_dir, val_images,
                                  tmp_path):
    """The engine built (by rgpnet_mmseg.deploy) from the static ONNX
    model, in a deployed dir, gives PyTorch's labels."""
    from rgpnet_mmseg.apis import TensorRTSegmenter, build_segmenter
    from rgpnet_mmseg.deploy.tensorrt import build_engine
    deployed = tmp_path / 'deploy_trt'
    shutil.copytree(onnx_dir, deployed)
    build_engine(str(onnx_dir / 'end2end.onnx'),
                 str(deployed / 'end2end.engine'))
    (deployed / 'end2end.onnx').unlink()
    trt = build_segmenter(str(deployed))  # finds end2end.engine
    assert isinstance(trt, TensorRTSegmenter)
    assert trt.input_size == (128, 256)
    same = total = 0
    for image in val_images[:4]:
        a, b = segmenter(image), trt(image)
        same += int((a == b).sum())
        total += a.size
    assert same / total >= 0.999, f'{same / total:.5f}'
