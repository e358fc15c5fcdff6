# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""ONNX Runtime for our backend model (mmdeploy's ``onnxruntime`` manager
stays): mmdeploy's ``ORTWrapper`` with intra-op threads and clear errors."""
import os.path as osp
from typing import Optional, Sequence

from mmdeploy.backend.onnxruntime.wrapper import ORTWrapper


class OnnxRuntimeWrapper(ORTWrapper):
    """mmdeploy's ``ORTWrapper`` with ``num_threads`` intra-op threads
    (default ONNX Runtime's: the physical cores); FileNotFoundError: no
    file, RuntimeError: CUDA asked for, no CUDA provider in onnxruntime.

    Args:
        onnx_file (str): The ONNX model.
        device (str): ``'cpu'`` or ``'cuda[:N]'`` (the CUDA execution
            provider of onnxruntime-gpu).
        output_names (Sequence[str], optional): Default all outputs.
        num_threads (int, optional): Intra-op threads.
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
            self.sess = ort.InferenceSession(
                onnx_file, options, providers=providers, provider_options=[
                    self.sess.get_provider_options()[p] for p in providers])
            self.io_binding = self.sess.io_binding()
