# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Make a model config buildable on one CPU process without downloads."""
from typing import Any


def without_syncbn_and_pretrained(cfg: Any) -> Any:
    """Swap SyncBN for BN and drop pretrained weights, recursively, in place
    (returns ``cfg``).

    Args:
        cfg (dict | list): A (model) config or part of one.
    """
    if isinstance(cfg, dict):
        if cfg.get('type') == 'SyncBN':
            cfg['type'] = 'BN'
        if isinstance(cfg.get('init_cfg'), dict) and \
                cfg['init_cfg'].get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        if 'pretrained' in cfg:
            cfg['pretrained'] = None
    for value in cfg.values() if isinstance(cfg, dict) else (
            cfg if isinstance(cfg, list) else ()):
        without_syncbn_and_pretrained(value)
    return cfg
