# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Backends for mmdeploy: ours are registered only where mmdeploy 1.3.1's
cannot run with the installed library (TensorRT >= 10, OpenVINO >= 2024)."""
import contextlib
import importlib
from typing import Optional


def register_own_backend(name: str, manager: type,
                         reason: Optional[str]) -> bool:
    """Register ``manager`` as mmdeploy's backend ``name`` where ``reason``
    (why mmdeploy's cannot run) is given, logged once; returns whether.

    Args:
        name (str): mmdeploy's backend name, e.g. ``'tensorrt'``.
        manager (type): A subclass of mmdeploy's manager of that backend.
        reason (str, optional): None: mmdeploy's manager stays.
    """
    from mmdeploy.backend.base import BACKEND_MANAGERS
    from mmdeploy.utils import get_root_logger
    if reason is None:
        return False
    # mmdeploy's module registers its manager on import: before ours
    with contextlib.suppress(Exception):
        importlib.import_module(f'mmdeploy.backend.{name}')
    if BACKEND_MANAGERS.find(name) is not manager:
        get_root_logger().info(f"mmdeploy's {name} backend cannot run here "
                               f"({reason}): using rgpnet_mmseg's")
        BACKEND_MANAGERS.register(name)(manager)
    return True
