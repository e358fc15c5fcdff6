# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""rgpnet_mmseg.benchmark (tools/benchmark.py): every mode end to end on
tiny inputs, and its fast paths against eager. No timing assertions: the
tables have their rows and columns, and every faster path computes what
eager computes."""
import argparse
import importlib.util
import json
import re
import subprocess
import sys

import pytest
import torch

import rgpnet_mmseg.benchmark as bench
from rgpnet_mmseg.benchmark import training, zoo
from rgpnet_mmseg.utils.timing import environment, measuring, \
    time_round_robin
from .conftest import CONFIG_DIR, REPO_ROOT

# the package loads without the deploy extras (the training, loss and
# pure-torch zoo modes need none); only the tests that deploy are skipped
# without them.
needs_ort = pytest.mark.skipif(
    importlib.util.find_spec('onnxruntime') is None,
    reason='onnxruntime is not installed')
X = (64, 128)
NUMBER = r'([-+]?\d+\.\d+)'


def test_round_robin_order_and_environment():
    calls = []
    times = time_round_robin({k: (lambda k=k: calls.append(k))
                              for k in 'abc'}, repeats=2, warmup=1)
    # warm-up a b c, then b c a, then c a b: rotated every round
    assert ''.join(calls) == 'abcbcacab'
    assert {k: len(v) for k, v in times.items()} == dict(a=2, b=2, c=2)
    env = environment('cpu', 3)
    assert env['threads'] == 3 and env['torch'] == torch.__version__
    flags = open('/proc/cpuinfo').read()
    assert ('avx512' in env['isa']) == (' avx512f' in flags)


def test_measuring_restores_threads_rng_and_tf32():
    """The one context that changes global settings: threads, the RNG
    (seeded) and TF32 of CUDA matmuls, each as before after."""
    matmul = torch.backends.cuda.matmul
    matmul.fp32_precision = 'tf32'  # as a user may have set it
    before = (torch.get_num_threads(), torch.random.get_rng_state())
    try:
        with measuring(threads=1, seed=3):
            assert torch.get_num_threads() == 1
            assert matmul.fp32_precision == 'ieee'
            drawn = torch.rand(3)
        assert torch.equal(drawn, torch.rand(
            3, generator=torch.Generator().manual_seed(3)))
        assert matmul.fp32_precision == 'tf32'
        assert torch.get_num_threads() == before[0]
        assert torch.equal(torch.random.get_rng_state(), before[1])
    finally:
        matmul.fp32_precision = 'none'


@needs_ort
def test_zoo_end_to_end_tiny(tmp_path, capsys):
    md, png, js = (tmp_path / f'zoo.{e}' for e in ('md', 'png', 'json'))
    rc = bench.main([
        'zoo', '--shape', *map(str, X), '--repeats', '1', '--warmup', '0',
        '--threads', '1', '--models', 'bisenetv1-r18', 'rgpnet-r18',
        '--fast-models', 'rgpnet-r18', '--fast-paths', 'fused',
        'channels-last', 'onnxruntime', '--train', '--train-shape', *map(
            str, X), '--train-iters', '1', '--profile', '--work-dir',
        str(tmp_path / 'work'), '--out-md', str(md), '--out-plot', str(png),
        '--out-json', str(js)
    ])
    assert rc == 0
    result = json.loads(js.read_text())
    labels = [r['label'] for r in result['rows']]
    assert labels == [
        'BiSeNetV1-R18', 'RGPNet-R18', 'RGPNet-R18 fused BN',
        'RGPNet-R18 fused BN + channels-last',
        'RGPNet-R18 onnxruntime (CPU EP)'
    ]
    by_key = {r['key']: r for r in result['rows']}
    # the paper's 17.8 M parameters
    assert by_key['rgpnet-r18']['params'] == pytest.approx(17.76e6, rel=1e-3)
    assert {k for k, r in by_key.items() if 'train_its' in r} == {
        'rgpnet-r18', 'bisenetv1-r18'}
    assert set(result['ceiling']['gemm']) >= {'torch.mm (MKL)'}
    # ONNX Runtime: deployed by run_deploy (its work dir) with the weights
    deployed = tmp_path / 'work' / 'rgpnet-r18' / 'onnxruntime'
    assert {'deploy_cfg.py', 'end2end.onnx'} <= {
        p.name for p in deployed.iterdir()}
    assert set(result['profile']) == {
        'RGPNet-R18 eager', 'RGPNet-R18 fused BN + channels-last'}
    text = md.read_text()
    header = re.search(r'^\| model \|.*\|$', text, re.M).group(0)
    assert header.count('|') == 11 and '% of GEMM ceiling' in header
    for label in labels:
        cells = re.search(rf'^\| {re.escape(label)} \|(.*)$', text, re.M)
        assert cells and cells.group(1).count('|') == 9, label
    assert '| conv 3x3 | 1/4 |' in text  # the layer breakdown
    assert text.startswith('`python tools/benchmark.py zoo --shape 64 128')
    assert text in capsys.readouterr().out  # the printed text, as written
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.fixture(scope='module')
def rgpnet_r18():
    torch.manual_seed(0)
    return zoo.build_segmentor(zoo.load_config('rgpnet-r18'))


@needs_ort
def test_fast_paths_compute_what_eager_computes(rgpnet_r18, tmp_path):
    x = torch.randn(1, 3, *X)
    with torch.inference_mode():
        ref = rgpnet_r18.encode_decode(x, [dict(img_shape=X)])
    assert ref.shape == (1, 19, *X)  # the logits at the input size
    cfg = zoo.load_config('rgpnet-r18')
    for path in zoo.FAST_LABELS:  # incl. torch.compile and ONNX Runtime
        fn, _ = zoo.fast_path(path, rgpnet_r18, cfg, x, 1, str(tmp_path))
        with torch.inference_mode():
            out = torch.as_tensor(fn())
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
        assert zoo.parity(ref, out)['ok']
    assert not zoo.parity(ref, ref + 0.01 * ref.abs().max())['ok']
    assert any(isinstance(m, torch.nn.BatchNorm2d)  # the original kept
               for m in rgpnet_r18.modules())


def test_complexity_counts_hand_computed_macs_and_parameters(rgpnet_r18):
    """MACs of a small net counted by hand on a 1x3x16x20 input: a 3x3 conv
    3->8 (bias not counted), a bilinear x2 upsampling (4 per output value,
    mmengine's convention), a 1x1 conv 8->4; its 8*3*9 + 8 + 4*8 weights.
    RGPNet-R18's parameters: the sum of its tensors' sizes."""
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.Upsample(scale_factor=2, mode='bilinear'),
        torch.nn.Conv2d(8, 4, 1, bias=False))
    got = zoo.complexity(net, torch.randn(1, 3, 16, 20))
    macs = (8 * 16 * 20 * 3 * 3 * 3  # conv 3x3 at 16x20
            + 4 * 8 * 32 * 40  # upsampling to 8 x 32x40
            + 4 * 32 * 40 * 8)  # conv 1x1 at 32x40
    assert (got['macs'], got['params']) == (macs, 8 * 3 * 9 + 8 + 4 * 8)
    assert macs == 151040
    params = zoo.complexity(rgpnet_r18, torch.randn(1, 3, *X))['params']
    assert params == sum(p.numel() for p in rgpnet_r18.parameters())


def test_bad_arguments_are_refused():
    for argv in (['zoo', '--models', 'segformer'], ['zoo', '--repeats', '0'],
                 ['deploy'], ['training', '--threads', '0']):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)


def cells(text: str, first: str) -> list:
    """The cells of the markdown row that starts with ``first``."""
    line = re.search(rf'^\| {re.escape(first)} \|.*$', text, re.M).group(0)
    return [c.strip() for c in line.strip('|').split('|')]


@needs_ort
def test_deploy_table(tmp_path, capsys):
    rc = bench.main([
        'deploy', str(CONFIG_DIR / 'rgpnet_r18_demo.py'), '--shape', '64',
        '128', '--repeats', '2', '--warmup', '1', '--threads', '1',
        '--work-dir', str(tmp_path)
    ])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert cells(out, 'backend')[:3] == ['backend', 'precision', 'median ms']
    assert cells(out, 'pytorch')[5] == '1.00x'
    assert cells(out, 'onnxruntime')[1] == 'fp32'
    assert 'input 1x3x64x128, 1 warm-up + 2 timed runs' in out
    assert (tmp_path / 'onnxruntime' / 'end2end.onnx').is_file()


@needs_ort
def test_frame_table(tmp_path, capsys, demo_data_root):
    """The frame mode on a deployed dir: the frame's labels at its size,
    the network alone on its input, and the labels against mmseg's
    inference_model (an independent computation: PyTorch) - 100 % for an
    FP32 backend but for float ties."""
    from .deploy_helpers import export
    cfg = str(CONFIG_DIR / 'rgpnet_r18_demo.py')
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(0)
    ckpt = tmp_path / 'demo.pth'
    model = MODELS.build(Config.fromfile(cfg).model)
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, ckpt)
    img = str(next((demo_data_root / 'leftImg8bit' / 'val').rglob('*.png')))
    export(tmp_path / 'ort', cfg, str(ckpt), img)
    rc = bench.main(['frame', str(tmp_path / 'ort'), '--checkpoint',
                     str(ckpt), '--frame', '333', '777', '--repeats', '1',
                     '--warmup', '0', '--threads', '1'])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert 'frame 333x777 -> network input 1x3x' in out
    assert cells(out, 'network alone')[2] == '1.00'
    assert float(cells(out, 'frame -> labels')[3].rstrip(' %')) >= 99.9


def test_training_schedule_ratio_and_table(tmp_path, capsys):
    # time proportional to pixels gives the theoretical ratio
    assert training.theoretical_ratio() == pytest.approx(0.2875)
    pixels = {s: s * s for s in training.SCALES}
    assert training.schedule_ratio(pixels, 1.0) == pytest.approx(0.2875)
    rc = bench.main(['training', '--crop', *map(str, X), '--repeats', '1',
                     '--warmup', '0', '--threads', '1', '--json',
                     str(tmp_path / 'train.json')])
    text = capsys.readouterr().out
    assert rc == 0
    assert len(cells(text, 'scale')) == 11
    for scale, size in (('1/4', '16x32'), ('1/2', '32x64'), ('1', '64x128')):
        row = cells(text, scale)
        assert row[1] == size and len(row) == 11, text
        assert all(re.fullmatch(NUMBER + '( %)?', c) for c in row[2:]), row
    assert cells(text, 'theoretical (pixels): 1/16*9/15 + 1/4*3/15 + '
                 '3/15')[1] == '0.2875'
    for title in ('PR+CE / full CE', 'PR+LR / full CE', 'PR+LR / full LR'):
        row = cells(text, f'measured, {title}')
        assert all(re.fullmatch(NUMBER, c) for c in row[1:3]), row
    saved = json.loads((tmp_path / 'train.json').read_text())
    assert [r[1] for r in saved['scales']] == ['16x32', '32x64', '64x128']
    assert len(saved['times']) == 6  # (scale, loss)


def test_loss_table(capsys):
    args = argparse.Namespace(device='cpu', threads=1, repeats=1, warmup=0)
    training.run_loss(args, shapes=((2, 19, 32, 64), ))
    text = capsys.readouterr().out
    rows = [c for c in (cells(text, 'logits shape'), ) + tuple(
        line.strip('|').split('|') for line in text.splitlines()
        if line.startswith('| (2, 19, 32, 64)'))]
    assert [r[1].strip() for r in rows[1:]] == ['regions', 'noise']
    assert rows[2][2].strip() == '100.0'  # random labels: all border


WITHOUT_ONNXRUNTIME = """
import sys, importlib.machinery as m
class NoOnnxruntime(m.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split('.')[0] == 'onnxruntime':
            return None
        return m.PathFinder.find_spec(name, path, target)
sys.meta_path[sys.meta_path.index(m.PathFinder)] = NoOnnxruntime
sys.argv = ['benchmark.py', 'loss', '--repeats', '1', '--warmup', '0']
import runpy
runpy.run_path('tools/benchmark.py', run_name='__main__')
"""


def test_cli_is_thin():
    """tools/benchmark.py imports the package only, one tool file."""
    text = (REPO_ROOT / 'tools' / 'benchmark.py').read_text()
    assert 'sys.path' not in text and [
        line for line in text.splitlines() if 'import' in line] == [
            'import sys', 'from rgpnet_mmseg.benchmark import main']
    assert sorted(p.name for p in (REPO_ROOT / 'tools').glob(
        'benchmark*.py')) == ['benchmark.py']


def test_loss_mode_runs_without_onnxruntime():
    """The loss mode needs no deploy extra (an interpreter where
    onnxruntime cannot be imported)."""
    proc = subprocess.run([sys.executable, '-c', WITHOUT_ONNXRUNTIME],
                          cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '| logits shape |' in proc.stdout
