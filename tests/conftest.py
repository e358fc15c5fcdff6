# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
import importlib.util
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / 'configs'
DEMO_ROOT = REPO_ROOT / 'data' / 'demo'


def load_tool(name: str):
    """``tools/<name>.py`` (tools/ is no package), imported by its path,
    once; e.g. ``load_tool('make_demo_data').render_sample``."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, REPO_ROOT / 'tools' / f'{name}.py')
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


@pytest.fixture(scope='session')
def demo_data_root() -> Path:
    """The bundled demo data set, generated (once) when it is missing, as
    `make demo-data` does."""
    load_tool('make_demo_data').generate_demo_cityscapes(str(DEMO_ROOT))
    return DEMO_ROOT
