# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""ONNX Runtime for mmdeploy, and the one place that opens an
``onnxruntime.InferenceSession`` (:func:`onnxruntime_session`)."""
import logging
import os.path as osp
from typing import Any, Optional, Sequence


def onnxruntime_session(onnx_file: str, device: str = 'cpu',
                        num_threads: Optional[int] = None):
    """An ``onnxruntime.InferenceSession`` of ``onnx_file`` on ``device``
    (``'cpu'``, or ``'cuda[:N]'``: the CUDA execution provider, CPU for the
    ops it lacks) with ``num_threads`` intra-op threads (default ONNX
    Runtime's: the physical cores). Raises FileNotFoundError for a missing
    file, RuntimeError for CUDA without onnxruntime's CUDA provider."""
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
        providers.insert(0, ('CUDAExecutionProvider',
                             dict(device_id=_device_id(device))))
    options = ort.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = int(num_threads)
    return ort.InferenceSession(onnx_file, options, providers=providers)


def _device_id(device: str) -> int:
    return int(str(device).partition(':')[2] or 0)


def register_onnxruntime() -> None:
    """Make mmdeploy's ``onnxruntime`` backend (``build_backend_model``,
    ``mmdeploy.apis.inference_model``) open its sessions with
    :func:`onnxruntime_session`, ``backend_config.intra_op_num_threads``
    of the deploy config as the thread count."""
    from mmdeploy.backend.base import BaseWrapper
    from mmdeploy.backend.onnxruntime.backend_manager import \
        ONNXRuntimeManager
    from mmdeploy.backend.onnxruntime.wrapper import ORTWrapper

    class OnnxRuntimeWrapper(ORTWrapper):
        """mmdeploy's ``ORTWrapper.forward`` on our session."""

        def __init__(self, onnx_file: str, device: str,
                     output_names: Optional[Sequence[str]],
                     num_threads: Optional[int]):
            self.sess = onnxruntime_session(onnx_file, device, num_threads)
            self._input_metas = {i.name: i for i in self.sess.get_inputs()}
            self.io_binding = self.sess.io_binding()
            self.device_type = 'cuda' if device.startswith('cuda') else 'cpu'
            self.device_id = _device_id(device)
            BaseWrapper.__init__(self, output_names or [
                o.name for o in self.sess.get_outputs()])

    class OnnxRuntimeManager(ONNXRuntimeManager):
        """mmdeploy's manager with :class:`OnnxRuntimeWrapper`."""

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
    """Register ``manager``, a subclass of mmdeploy's (whose import
    registered it), as mmdeploy's backend manager ``name``."""
    from mmdeploy.backend.base import BACKEND_MANAGERS
    from mmdeploy.utils import get_root_logger
    mmdeploy_logger = get_root_logger()
    level = mmdeploy_logger.level
    mmdeploy_logger.setLevel(logging.WARNING)  # "already registered": we know
    BACKEND_MANAGERS.register(name)(manager)
    mmdeploy_logger.setLevel(level)
