# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Unusable deployed model files through the real tools/infer.py: one
line naming the file and the backend's own error, exit 2 (docs/inference.md
"Exit status"); a file that does not fit its dir's configs is refused."""
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from .conftest import CONFIG_DIR, REPO_ROOT
from .deploy_helpers import demo_checkpoint, deploy_cfg, export

DEMO_CFG = str(CONFIG_DIR / 'rgpnet_r18_demo.py')


@pytest.fixture(scope='module')
def demo_img(demo_data_root):
    return str(next((demo_data_root / 'leftImg8bit' / 'val').rglob('*.png')))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    return demo_checkpoint(tmp_path_factory.mktemp('ckpt') / 'demo.pth',
                           varied=False)


@pytest.fixture(scope='module')
def ort_dir(tmp_path_factory, checkpoint, demo_img):
    work_dir = tmp_path_factory.mktemp('ort')
    export(work_dir, DEMO_CFG, checkpoint, demo_img)
    return work_dir


def infer(model, img, tmp_path, *args):
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / 'infer.py'), str(model),
         *map(str, args), img, '--out', str(tmp_path / 'out')],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    lines = [line for line in proc.stderr.splitlines() if line.strip()
             and ' - mmengine - ' not in line and 'Warning' not in line]
    return proc.returncode, lines


def broken_copy(src, tmp_path, edit):
    folder = tmp_path / 'dir'
    shutil.copytree(src, folder)
    edit(folder)
    return folder


def test_truncated_onnx(ort_dir, demo_img, tmp_path):
    def truncate(folder):
        data = (folder / 'end2end.onnx').read_bytes()
        (folder / 'end2end.onnx').write_bytes(data[:len(data) // 3])
    folder = broken_copy(ort_dir, tmp_path, truncate)
    code, lines = infer(folder, demo_img, tmp_path)
    assert code == 2 and len(lines) == 1, lines
    assert str(folder / 'end2end.onnx') in lines[0]
    assert 'InvalidProtobuf' in lines[0]  # ONNX Runtime's own error


@pytest.mark.parametrize('config, old, new, words', [
    ('model_cfg.py', 'num_classes=19', 'num_classes=11',
     'output has 19 channels, the model config 11 classes'),
    ('deploy_cfg.py', "input_names=[\n        'input',\n    ]",
     "input_names=[\n        'image',\n    ]",
     "deploy_cfg.py names ['image']"),
])
def test_model_file_not_fitting_its_configs(ort_dir, demo_img, tmp_path,
                                            config, old, new, words):
    def edit(folder):
        text = (folder / config).read_text()
        assert old in text, text[:2000]
        (folder / config).write_text(text.replace(old, new))
    folder = broken_copy(ort_dir, tmp_path, edit)
    code, lines = infer(folder, demo_img, tmp_path)
    assert code == 2 and len(lines) == 1, lines
    assert 'end2end.onnx does not fit its configs' in lines[0]
    assert words in lines[0]


@pytest.mark.openvino
@pytest.mark.skipif(importlib.util.find_spec('openvino') is None,
                    reason='openvino is not installed')
def test_openvino_ir_without_its_bin(tmp_path, checkpoint, demo_img):
    cfg = deploy_cfg('segmentation_openvino_static-512x1024.py',
                     shape=(128, 256))
    export(tmp_path / 'ov', DEMO_CFG, checkpoint, demo_img, cfg)
    (tmp_path / 'ov' / 'end2end.bin').unlink()
    code, lines = infer(tmp_path / 'ov', demo_img, tmp_path)
    assert code == 2 and len(lines) == 1, lines
    assert str(tmp_path / 'ov' / 'end2end.xml') in lines[0]
    assert 'end2end.bin' in lines[0]
