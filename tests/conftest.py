# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
import importlib.util
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / 'configs'
DEMO_ROOT = REPO_ROOT / 'data' / 'demo'


@pytest.fixture(scope='module')
def one_torch_thread():
    """One intra-op torch thread while a module's tests run (use with
    ``pytestmark = pytest.mark.usefixtures('one_torch_thread')``): on the
    shared 2-core machine a second thread's synchronisation made small
    models 3-6 times slower (the Runner tests of test_progressive_resize:
    57 s -> 10 s)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_tool(name: str):
    """``tools/<name>.py`` (tools/ is no package; ``name`` may name a
    subfolder: ``'analysis_tools/entropy_diff'``), imported by its path
    once, as module ``_tool_<name>`` (tools named like stdlib modules, e.g.
    ``test``, shadow nothing); e.g. ``load_tool('infer').main([...])``."""
    key = '_tool_' + name.replace('/', '__')
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            key, REPO_ROOT / 'tools' / f'{name}.py')
        sys.modules[key] = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(sys.modules[key])
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]


def randomize_bn(module, seed: int = 0) -> None:
    """BN statistics and affine parameters of every ``BatchNorm2d`` in
    ``module`` away from the 0/1 defaults, so that eval-mode BN is not the
    identity."""
    import torch
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=g))
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=g))


@pytest.fixture(scope='session')
def demo_data_root() -> Path:
    """The bundled demo data set, generated (once) when it is missing, as
    `make demo-data` does."""
    load_tool('make_demo_data').generate_demo_cityscapes(str(DEMO_ROOT))
    return DEMO_ROOT
