# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""ONNX Runtime for our backend model: mmdeploy's ``ORTWrapper`` (its
custom-op library loaded by its own ``__init__``) with intra-op threads
from ``backend_config.intra_op_num_threads`` and a clear error for a
missing file or CUDA provider. mmdeploy's ``onnxruntime`` manager stays
mmdeploy's: only ``model_type='mmseg_end2end'`` builds this wrapper."""
import os.path as osp
from typing import Any, Optional, Sequence

from mmdeploy.backend.onnxruntime.wrapper import ORTWrapper


class OnnxRuntimeWrapper(ORTWrapper):
    """mmdeploy's ``ORTWrapper`` with ``num_threads`` intra-op threads
    (default ONNX Runtime's: the physical cores).

    Args:
        onnx_file (str): The ONNX model.
        device (str): ``'cpu'`` or ``'cuda[:N]'`` (the CUDA execution
            provider of onnxruntime-gpu).
        output_names (Sequence[str], optional): Default all outputs.
        num_threads (int, optional): Intra-op threads.

    Raises:
        FileNotFoundError: No such file.
        RuntimeError: CUDA asked for, but onnxruntime has no CUDA provider.
    """

    def __init__(self, onnx_file: str, device: str = 'cpu',
                 output_names: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None):
        import onnxruntime as ort
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
        available = ort.get_available_providers()
        if str(device).startswith('cuda') and \
                'CUDAExecutionProvider' not in available:
            raise RuntimeError(
                f'device {device!r} needs the CUDA execution provider of '
                f'onnxruntime-gpu; this onnxruntime {ort.__version__} has '
                f'{", ".join(available)}')
        super().__init__(onnx_file, str(device), output_names)
        if num_threads:  # a session's threads are fixed: built again
            options = self.sess.get_session_options()
            options.intra_op_num_threads = int(num_threads)
            providers = self.sess.get_providers()
            provider_options = self.sess.get_provider_options()
            self.sess = ort.InferenceSession(
                onnx_file, options, providers=providers,
                provider_options=[provider_options[p] for p in providers])
            self.io_binding = self.sess.io_binding()


def build_onnxruntime_wrapper(backend_files: Sequence[str], device: str,
                              output_names: Optional[Sequence[str]],
                              deploy_cfg: Any) -> OnnxRuntimeWrapper:
    """:class:`OnnxRuntimeWrapper` of ``backend_files[0]`` with the deploy
    config's ``backend_config.intra_op_num_threads``."""
    threads = ((deploy_cfg or {}).get('backend_config') or {}).get(
        'intra_op_num_threads')
    return OnnxRuntimeWrapper(backend_files[0], device, output_names, threads)
