# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""One calling convention for PyTorch, ONNX Runtime and TensorRT, used by
the parity check of ``tools/deploy.py``, the mIoU comparison and
``tools/benchmark.py``.

A runner takes a normalised NCHW float32 tensor and returns a dict of
numpy arrays (``'output'``: labels (N, 1, H, W) or logits (N, C, H, W);
``'logits'`` where the runner can give them); a call returns once the
result is computed (CUDA work synchronised).
"""
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn

from .exporter import SegmentorForExport
from .onnx_graph import find_argmax_input, with_extra_outputs

ORT_OPT_LEVELS = ('disable', 'basic', 'extended', 'all')


class TorchRunner:
    """PyTorch eager inference of an mmseg segmentor (as exported).

    Args:
        segmentor (nn.Module): mmseg ``EncoderDecoder``.
        device (str): Device. Default: ``'cpu'``.
        with_argmax (bool): ``'output'`` is the label map. Default: True.
    """
    name = 'pytorch'

    def __init__(self,
                 segmentor: nn.Module,
                 device: str = 'cpu',
                 with_argmax: bool = True):
        self.device = torch.device(device)
        self.with_argmax = with_argmax
        self.module = SegmentorForExport(
            segmentor.to(self.device).eval(), with_argmax=False).eval()

    def run_tensor(self, inputs: torch.Tensor) -> torch.Tensor:
        """Forward on ``inputs`` (moved to the device), synchronised; the
        labels or logits stay on the device (for timing)."""
        with torch.inference_mode():
            logits = self.module(inputs.to(self.device))
            out = logits.argmax(1, keepdim=True) if self.with_argmax \
                else logits
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
        return out

    def __call__(self, inputs: torch.Tensor) -> Dict[str, np.ndarray]:
        with torch.inference_mode():
            logits = self.module(inputs.to(self.device))
        logits = logits.float().cpu().numpy()
        out = logits.argmax(1)[:, None] if self.with_argmax else logits
        return dict(output=out, logits=logits)


class ORTRunner:
    """ONNX Runtime inference session.

    Args:
        model (str | onnx.ModelProto): ONNX file or model.
        threads (int, optional): ``intra_op_num_threads`` (default: ONNX
            Runtime's choice, the physical cores).
        opt_level (str): Graph optimisation level: ``'disable'``,
            ``'basic'``, ``'extended'`` or ``'all'`` (default).
        providers (Sequence[str], optional): Execution providers. Default:
            CPU.
        with_logits (bool): Also return the tensor that ``ArgMax`` reads as
            ``'logits'``. Default: False.
    """
    name = 'onnxruntime'

    def __init__(self,
                 model,
                 threads: Optional[int] = None,
                 opt_level: str = 'all',
                 providers: Optional[Sequence[str]] = None,
                 with_logits: bool = False):
        import onnx
        import onnxruntime as ort
        if opt_level not in ORT_OPT_LEVELS:
            raise ValueError(f'opt_level must be one of {ORT_OPT_LEVELS}')
        proto = onnx.load(model) if isinstance(model, str) else model
        self.logits_name = None
        if with_logits:
            self.logits_name = find_argmax_input(proto)
            if self.logits_name is not None:
                proto = with_extra_outputs(proto, [self.logits_name])
        options = ort.SessionOptions()
        options.graph_optimization_level = {
            'disable': ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            'basic': ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            'extended': ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            'all': ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[opt_level]
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = ort.InferenceSession(
            proto.SerializeToString(),
            options,
            providers=list(providers or ['CPUExecutionProvider']))
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run_numpy(self, inputs: np.ndarray) -> list:
        """``session.run`` on a float32 array (for timing)."""
        return self.session.run(None, {self.input_name: inputs})

    def __call__(self, inputs: Union[torch.Tensor,
                                     np.ndarray]) -> Dict[str, np.ndarray]:
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        outs = dict(
            zip(self.output_names,
                self.run_numpy(inputs.astype(np.float32, copy=False))))
        result = dict(output=outs[self.output_names[0]])
        if self.logits_name is not None:
            result['logits'] = outs[self.logits_name]
        return result


class TensorRTRunner:
    """TensorRT engine inference (see
    :class:`rgpnet_mmseg.deploy.tensorrt.TRTRunner`).

    Args:
        engine (str): Engine file.
        device (str): CUDA device. Default: ``'cuda:0'``.
    """
    name = 'tensorrt'

    def __init__(self, engine: str, device: str = 'cuda:0'):
        from .tensorrt import TRTRunner
        self.runner = TRTRunner(engine, device)
        self.device = self.runner.device

    def run_tensor(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Run on a tensor (moved to the GPU); outputs stay on the GPU."""
        return self.runner(inputs.to(self.device))

    def __call__(self, inputs: torch.Tensor) -> Dict[str, np.ndarray]:
        outs = self.run_tensor(torch.as_tensor(inputs))
        name = self.runner.output_names[0]
        return dict(output=outs[name].cpu().numpy())


def compare_outputs(ref_logits: np.ndarray,
                    output: np.ndarray,
                    logits: Optional[np.ndarray] = None) -> Dict[str, float]:
    """Compare a backend's output with PyTorch's logits.

    Args:
        ref_logits (np.ndarray): PyTorch logits, (N, C, H, W).
        output (np.ndarray): The backend's labels (N, 1, H, W) or logits
            (N, C, H, W).
        logits (np.ndarray, optional): The backend's logits, where
            ``output`` is labels.

    Returns:
        dict: ``pixel_agreement`` (fraction of equal labels), and where
        logits exist ``logits_max_abs_diff``, ``logits_mean_abs_diff`` and
        ``logits_max_abs`` (PyTorch's largest magnitude, for scale).
    """
    ref_labels = ref_logits.argmax(1)
    if output.ndim == 4 and output.shape[1] == ref_logits.shape[1] and \
            np.issubdtype(output.dtype, np.floating):
        logits = output
        labels = output.argmax(1)
    else:
        labels = output.reshape(ref_labels.shape)
    result = dict(pixel_agreement=float((labels == ref_labels).mean()))
    if logits is not None:
        diff = np.abs(logits.astype(np.float64) - ref_logits)
        result.update(
            logits_max_abs_diff=float(diff.max()),
            logits_mean_abs_diff=float(diff.mean()),
            logits_max_abs=float(np.abs(ref_logits).max()))
    return result
