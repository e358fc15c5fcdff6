# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Make a model config buildable on one CPU process without downloads."""
from typing import Any


def cpu_friendly(cfg: Any) -> Any:
    """Swap SyncBN for BN and drop pretrained weights, recursively, in place.

    Args:
        cfg (dict | list): A (model) config or part of one.

    Returns:
        The same object, changed in place.
    """
    if isinstance(cfg, dict):
        if cfg.get('type') == 'SyncBN':
            cfg['type'] = 'BN'
        if isinstance(cfg.get('init_cfg'), dict) and \
                cfg['init_cfg'].get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        if 'pretrained' in cfg:
            cfg['pretrained'] = None
        for value in cfg.values():
            cpu_friendly(value)
    elif isinstance(cfg, list):
        for value in cfg:
            cpu_friendly(value)
    return cfg
