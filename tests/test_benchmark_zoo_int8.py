# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""``tools/benchmark.py zoo`` reduced-precision rows on tiny inputs: the
``onnxruntime-int8`` fast path (rgpnet_mmseg.deploy.quantize) and
``--fp16`` (torch.autocast) rows, their parity shown but no gate."""
import json

import pytest

from .conftest import load_tool

pytest.importorskip('onnxruntime')
bench = load_tool('benchmark')


def test_zoo_int8_and_fp16_rows(tmp_path, capsys):
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
    assert any(p.name.endswith('_int8.onnx')
               for p in (tmp_path / 'work').iterdir())
    text = md.read_text()
    assert '| RGPNet-R18 onnxruntime INT8 (CPU EP) |' in text
    assert '| RGPNet-R18 FP16 (autocast) |' in text
    assert 'calibrated on the timed input and 4 random-normal' in text
    assert 'MISMATCH' not in text and 'not a gate' in text
