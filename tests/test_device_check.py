# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""tools/device_check.sh, the one-shot GPU check, in its CPU dry run: the
same steps (environment and mmcv ops, a demo checkpoint trained by
tools/train.py, the zoo eager and torch.compile in FP32 and FP16 autocast,
tools/deploy.py parity and tools/benchmark.py deploy FPS in FP32 and INT8,
the selected tests, the report) with tiny settings and ONNX Runtime in place
of TensorRT."""
import json
import os
import subprocess
import sys

import torch

from .conftest import REPO_ROOT

STEPS = ['env', 'train', 'zoo', 'deploy_onnxruntime', 'bench_onnxruntime',
         'deploy_onnxruntime-int8', 'bench_onnxruntime-int8',
         'zoo_compile_rgpnet-r18', 'tests']


def test_device_check_dry_run(tmp_path, demo_data_root):
    out = tmp_path / 'check'
    proc = subprocess.run(
        ['bash', str(REPO_ROOT / 'tools' / 'device_check.sh'), '--dry-run',
         str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / 'report.json').read_text())
    assert report['ok'] is True
    env = report['env']
    assert env['torch'] == torch.__version__
    assert env['cuda_available'] == torch.cuda.is_available()
    assert env['mmcv_ops'] == 'imported'  # and nms gave the known answer
    assert env['mmcv_nms_cuda' if env['cuda_available'] else
               'mmcv_nms_cpu'] == 'OK'
    steps = {s['name']: s for s in report['steps']}
    assert list(steps) == STEPS
    assert all(s['ok'] for s in steps.values())
    assert steps['env']['rc'] == (3 if env['tensorrt_unavailable'] else 0)
    assert (out / 'train' / 'iter_2.pth').is_file()
    parity, = steps['deploy_onnxruntime']['lines']
    assert parity.startswith('parity onnxruntime vs pytorch on input '
                             '1x3x128x256') and '-> OK' in parity
    assert (out / 'deploy_onnxruntime' / 'end2end.onnx').is_file()
    int8 = steps['deploy_onnxruntime-int8']
    assert int8['rc'] in (0, 2)  # 2: parity below the INT8 gate, shown
    assert int8['lines'][0].startswith('parity onnxruntime INT8 vs pytorch')
    assert int8['lines'][1].startswith('mIoU on 8 val images')
    assert (out / 'deploy_onnxruntime-int8' / 'calib_data.h5').is_file()
    for b in ('onnxruntime', 'onnxruntime-int8'):
        assert [s.split('|')[1].strip() for s in steps[f'bench_{b}'][
            'lines']] == ['pytorch', 'onnxruntime'], steps[f'bench_{b}']
    assert steps['tests']['lines'][-1].startswith('1 passed')
    md = (out / 'report.md').read_text()
    assert 'Overall: OK' in md and '| deploy_onnxruntime | 0 |' in md
    assert '| mmcv_ops | imported |' in md
    zoo, compiled = md.split('\n## zoo\n')[1].split('\n## zoo_compile_')
    assert '--fp16 --fast-paths --models rgpnet-r18 bisenetv1-r18' in zoo
    for label in ('RGPNet-R18', 'BiSeNetV1-R18'):
        assert f'\n| {label} |' in zoo
        assert f'\n| {label} FP16 (autocast) |' in zoo
    compile_row = '\n| RGPNet-R18 torch.compile (inductor, freezing)'
    assert compiled.startswith('rgpnet-r18\n')
    assert f'{compile_row} |' in compiled
    assert f'{compile_row} FP16 (autocast) |' in compiled
    assert 'MISMATCH' not in md
    assert md in proc.stdout
