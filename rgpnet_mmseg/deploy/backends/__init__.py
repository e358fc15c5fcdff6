# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Backends for mmdeploy, by one rule: mmdeploy's own backend managers are
left as mmdeploy registered them, except a backend whose mmdeploy 1.3.1
implementation cannot run with the installed library (TensorRT >= 10:
mmdeploy#2758; OpenVINO >= 2024: ``openvino.inference_engine`` and Model
Optimizer removed). Only then is ours registered, and the log says so once.

* :mod:`.onnxruntime` - a wrapper subclass of mmdeploy's ``ORTWrapper``
  (threads, CUDA provider check) used by our backend model only.
* :mod:`.tensorrt` - TensorRT 10/11 (engine builder, INT8 calibrator,
  wrapper on its own stream); on TensorRT < 10 mmdeploy's is used.
* :mod:`.openvino` - OpenVINO >= 2024 (``convert_model``, NNCF INT8).
"""
import contextlib
import importlib
from typing import Optional


def register_own_backend(name: str, manager: type,
                         reason: Optional[str]) -> bool:
    """Register ``manager`` as mmdeploy's backend manager ``name`` only
    when ``reason`` (why mmdeploy's own cannot run here) is given; logged
    once in mmdeploy's log. Returns whether it was registered.

    Args:
        name (str): mmdeploy's backend name, e.g. ``'tensorrt'``.
        manager (type): A subclass of mmdeploy's manager of that backend.
        reason (str, optional): None: mmdeploy's manager stays.
    """
    from mmdeploy.backend.base import BACKEND_MANAGERS
    from mmdeploy.utils import get_root_logger
    if reason is None:
        return False
    # mmdeploy's module registers its manager when first imported (by
    # BACKEND_MANAGERS.find too): import it before ours replaces it
    with contextlib.suppress(Exception):
        importlib.import_module(f'mmdeploy.backend.{name}')
    if BACKEND_MANAGERS.find(name) is not manager:
        get_root_logger().info(f"mmdeploy's {name} backend cannot run here "
                               f"({reason}): using rgpnet_mmseg's")
        BACKEND_MANAGERS.register(name)(manager)
    return True
