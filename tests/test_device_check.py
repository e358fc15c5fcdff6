# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""tools/device_check.sh, the one-shot GPU check, in its CPU dry run: the
same steps (environment, a demo checkpoint trained by tools/train.py,
tools/deploy.py parity, the selected tests, the report) with tiny settings
and ONNX Runtime in place of TensorRT."""
import json
import os
import subprocess
import sys

import torch

from .conftest import REPO_ROOT


def test_device_check_dry_run(tmp_path, demo_data_root):
    out = tmp_path / 'check'
    proc = subprocess.run(
        ['bash', str(REPO_ROOT / 'tools' / 'device_check.sh'), '--dry-run',
         str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / 'report.json').read_text())
    assert report['ok'] is True
    assert report['env']['torch'] == torch.__version__
    assert report['env']['cuda_available'] == torch.cuda.is_available()
    steps = {s['name']: s for s in report['steps']}
    assert list(steps) == ['env', 'train', 'deploy_onnxruntime', 'tests']
    assert steps['env']['rc'] == (3 if report['env']['tensorrt_unavailable']
                                  else 0)
    assert (out / 'train' / 'iter_2.pth').is_file()
    parity, = steps['deploy_onnxruntime']['lines']
    assert parity.startswith('parity onnxruntime vs pytorch on input '
                             '1x3x128x256') and '-> OK' in parity
    assert (out / 'deploy_onnxruntime' / 'end2end.onnx').is_file()
    assert steps['tests']['lines'][-1].startswith('1 passed')
    md = (out / 'report.md').read_text()
    assert 'Overall: OK' in md and '| deploy_onnxruntime | 0 |' in md
    assert md in proc.stdout
