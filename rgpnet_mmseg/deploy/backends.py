# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""ONNX Runtime for mmdeploy: the one place that opens an
``onnxruntime.InferenceSession``.

:func:`onnxruntime_session` opens it; :func:`register_onnxruntime` makes
mmdeploy's ``onnxruntime`` backend (``build_task_processor(...).
build_backend_model``, ``mmdeploy.apis.inference_model``) open its sessions
through it, with ``backend_config.intra_op_num_threads`` of the deploy
config as the thread count.
"""
import os.path as osp
from typing import Any, Optional, Sequence


def onnxruntime_session(onnx_file: str,
                        device: str = 'cpu',
                        num_threads: Optional[int] = None):
    """Open an ONNX Runtime session.

    Args:
        onnx_file (str): The ``.onnx`` file.
        device (str): ``'cpu'`` or ``'cuda[:N]'`` (CUDA execution provider,
            CPU for the ops it lacks). Default: ``'cpu'``.
        num_threads (int, optional): ``intra_op_num_threads``; default ONNX
            Runtime's choice (the physical cores).

    Returns:
        onnxruntime.InferenceSession: The session.

    Raises:
        FileNotFoundError: ``onnx_file`` does not exist.
        RuntimeError: CUDA asked for, but this onnxruntime has no CUDA
            execution provider.
    """
    import onnxruntime as ort
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
    providers: list = ['CPUExecutionProvider']
    if str(device).startswith('cuda'):
        available = ort.get_available_providers()
        if 'CUDAExecutionProvider' not in available:
            raise RuntimeError(
                f'device {device!r} needs the CUDA execution provider of '
                f'onnxruntime-gpu; this onnxruntime {ort.__version__} has '
                f'{", ".join(available)}')
        index = str(device).partition(':')[2] or '0'
        providers.insert(0, ('CUDAExecutionProvider',
                             dict(device_id=int(index))))
    options = ort.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = int(num_threads)
    return ort.InferenceSession(onnx_file, options, providers=providers)


def register_onnxruntime() -> None:
    """Register, as mmdeploy's ``onnxruntime`` backend manager, mmdeploy's
    manager with a wrapper whose session comes from
    :func:`onnxruntime_session`."""
    from mmdeploy.backend.base import BaseWrapper
    from mmdeploy.backend.onnxruntime.backend_manager import \
        ONNXRuntimeManager as MMDeployManager
    from mmdeploy.backend.onnxruntime.wrapper import ORTWrapper

    class OnnxRuntimeWrapper(ORTWrapper):
        """mmdeploy's ``ORTWrapper`` (its ``forward``) on a session of
        :func:`onnxruntime_session`."""

        def __init__(self, onnx_file: str, device: str,
                     output_names: Optional[Sequence[str]],
                     num_threads: Optional[int]):
            self.sess = onnxruntime_session(onnx_file, device, num_threads)
            self._input_metas = {i.name: i for i in self.sess.get_inputs()}
            self.io_binding = self.sess.io_binding()
            self.device_type = 'cuda' if device.startswith('cuda') else 'cpu'
            self.device_id = int(device.partition(':')[2] or 0)
            BaseWrapper.__init__(
                self, output_names or
                [o.name for o in self.sess.get_outputs()])

    class OnnxRuntimeManager(MMDeployManager):
        """mmdeploy's ONNX Runtime manager, sessions from
        :func:`onnxruntime_session`."""

        @classmethod
        def build_wrapper(cls, backend_files: Sequence[str],
                          device: str = 'cpu', input_names=None,
                          output_names: Optional[Sequence[str]] = None,
                          deploy_cfg: Optional[Any] = None, **kwargs):
            threads = ((deploy_cfg or {}).get('backend_config')
                       or {}).get('intra_op_num_threads')
            return OnnxRuntimeWrapper(backend_files[0], device, output_names,
                                      threads)

    register_backend_manager('onnxruntime', OnnxRuntimeManager)


def register_backend_manager(name: str, manager: type) -> None:
    """Register ``manager`` as mmdeploy's backend manager ``name`` in place
    of mmdeploy's own, which is imported first so that it cannot come back
    (mmdeploy imports ``mmdeploy.backend.<name>`` on first use)."""
    import importlib
    import logging

    from mmdeploy.backend.base import BACKEND_MANAGERS
    from mmdeploy.utils import get_root_logger
    try:
        importlib.import_module(f'mmdeploy.backend.{name}')
    except Exception:  # noqa: BLE001 - e.g. a broken TensorRT install
        pass
    mmdeploy_logger = get_root_logger()
    level = mmdeploy_logger.level
    mmdeploy_logger.setLevel(logging.WARNING)  # "already registered": we know
    try:
        BACKEND_MANAGERS.register(name)(manager)
    finally:
        mmdeploy_logger.setLevel(level)
