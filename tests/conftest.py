# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / 'configs'
DEMO_ROOT = REPO_ROOT / 'data' / 'demo'


@pytest.fixture(scope='session')
def demo_data_root() -> Path:
    """The bundled demo data set, generated (once) when it is missing, as
    `make demo-data` does."""
    from rgpnet_mmseg.datasets import generate_demo_cityscapes
    generate_demo_cityscapes(str(DEMO_ROOT))
    return DEMO_ROOT
