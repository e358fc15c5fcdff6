# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""``tools/benchmark.py zoo`` reduced-precision rows on tiny inputs: the
``onnxruntime-int8`` fast path (deployed by run_deploy with the ONNX
Runtime INT8 config, calibrated on the demo val images) and ``--fp16``
(torch.autocast) rows, their parity shown but no gate."""
import json

import pytest

import rgpnet_mmseg.benchmark as bench

pytest.importorskip('onnxruntime')


def test_zoo_int8_and_fp16_rows(demo_data_root, tmp_path, capsys):
    js, md = tmp_path / 'zoo.json', tmp_path / 'zoo.md'
    rc = bench.main([
        'zoo', '--shape', '64', '128', '--repeats', '1', '--warmup', '0',
        '--threads', '1', '--models', 'rgpnet-r18', '--fast-models',
        'rgpnet-r18', '--fast-paths', 'onnxruntime', 'onnxruntime-int8',
        '--fp16', '--device', 'cpu', '--work-dir', str(tmp_path / 'work'),
        '--out-json', str(js), '--out-md', str(md)])
    assert rc == 0  # INT8 and FP16 differ from eager FP32: no gate
    rows = {r['key']: r for r in json.loads(js.read_text())['rows']}
    assert list(rows) == [
        'rgpnet-r18', 'rgpnet-r18:onnxruntime', 'rgpnet-r18:onnxruntime-int8',
        'rgpnet-r18:eager:fp16']
    fp32, int8, fp16 = (rows[f'rgpnet-r18:{k}']['parity'] for k in (
        'onnxruntime', 'onnxruntime-int8', 'eager:fp16'))
    assert fp32['ok'] is True and int8['ok'] is None and fp16['ok'] is None
    # INT8, FP16: not FP32's logits, yet nearly FP32's labels
    for p in (int8, fp16):
        assert p['logits_max_abs_diff'] > 10 * fp32['logits_max_abs_diff']
    assert int8['pixel_agreement'] >= 0.9 and fp16['pixel_agreement'] >= 0.9
    int8_dir = tmp_path / 'work' / 'rgpnet-r18' / 'onnxruntime-int8'
    assert {'end2end.onnx', 'end2end-fp32.onnx', 'calib_data.h5'} <= {
        p.name for p in int8_dir.iterdir()}  # run_deploy's INT8 model
    text = md.read_text()
    assert '| RGPNet-R18 onnxruntime INT8 (CPU EP) |' in text
    assert '| RGPNet-R18 FP16 (autocast) |' in text
    assert 'calibrated on the val images of configs/rgpnet_r18_demo.py' in text
    assert 'MISMATCH' not in text and 'not a gate' in text
