# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Config handling shared by the tools, the APIs and the deploy layer."""
import os.path as osp
from typing import Optional

from mmengine.config import Config


def load_run_config(config: str, work_dir: Optional[str] = None,
                    cfg_options: Optional[dict] = None,
                    launcher: str = 'none') -> Config:
    """Load a config the way mmseg's tools do (FileNotFoundError: none).

    Args:
        config (str): Config file path.
        work_dir (str, optional): ``--work-dir``; wins over the config's own
            ``work_dir``, which wins over ``./work_dirs/<config name>``.
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        launcher (str): ``--launcher``.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'Config file not found: {config}')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    cfg.merge_from_dict(cfg_options or {})
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg


def decode_head_cfg(cfg: Config) -> dict:
    """The (last) decode head of a model config (``{}`` if none)."""
    head = cfg.model.get('decode_head', None) or {}
    return head[-1] if isinstance(head, (list, tuple)) else head
