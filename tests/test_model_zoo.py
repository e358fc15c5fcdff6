# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The model index (model-index.yml, configs/rgpnet/metafile.yml) names
existing configs, and its parameter counts are those of the built models."""
import re

import pytest
import yaml
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmseg.registry import MODELS
from rgpnet_mmseg.utils.cpu_config import without_syncbn_and_pretrained
from .conftest import REPO_ROOT


def _metafile():
    index = yaml.safe_load((REPO_ROOT / 'model-index.yml').read_text())
    assert index['Import'] == ['configs/rgpnet/metafile.yml']
    return yaml.safe_load((REPO_ROOT / index['Import'][0]).read_text())


MODELS_INDEX = _metafile()['Models']


def test_metafile_names_existing_configs():
    names = [m['Name'] for m in MODELS_INDEX]
    assert len(names) == len(set(names))
    for model in MODELS_INDEX:
        config = REPO_ROOT / model['Config']
        assert config.is_file(), model['Config']
        assert config.stem == model['Name']
        assert model['In Collection'] == 'RGPNet'
        for result in model['Results']:
            # no measured results: only the paper's figures, named so
            assert all(k.startswith('Paper ') for k in result['Metrics'])
    # the short names users type point at indexed configs
    for backbone in ('r18', 'r50', 'r101'):
        for data in ('cityscapes', 'camvid', 'mapillary'):
            short = REPO_ROOT / 'configs' / f'rgpnet_{backbone}_{data}.py'
            bases = re.findall(r"'\./rgpnet/([^']+)\.py'", short.read_text())
            assert len(bases) == 1 and bases[0] in names, short.name


@pytest.mark.parametrize('name', [
    'rgpnet_r18-d32_2xb6-80k_camvid-352x480',
    'rgpnet_r18-d32_2xb6-80k_mapillary-1024x1024',
    'rgpnet_r18-d32-no-ds_2xb6-ce-80k_cityscapes-1024x1024',
])
def test_metafile_parameter_counts(name):
    entry = next(m for m in MODELS_INDEX if m['Name'] == name)
    cfg = Config.fromfile(str(REPO_ROOT / entry['Config']))
    init_default_scope('mmseg')
    model = MODELS.build(without_syncbn_and_pretrained(cfg.model))
    assert sum(p.numel()
               for p in model.parameters()) == entry['Metadata']['Parameters']
