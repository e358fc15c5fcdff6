# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The backend model of our deploy configs, in mmdeploy's mmseg
backend-model registry as ``codebase_config.model_type='mmseg_end2end'``
(mmdeploy's default ``'end2end'`` stays mmdeploy's).

mmdeploy's ``End2EndModel.pack_result`` takes the argmax first and resizes
the labels nearest-neighbour, which are not mmseg's labels; ours packs by
:func:`.postprocess.postprocess` (mmseg's: logits resized bilinearly to the
image, then argmax) with the ``align_corners``/``threshold`` that
:func:`use_mmseg_labels` wrote into ``codebase_config`` (mmdeploy's
``build_segmentation_model`` passes no model config). ONNX Runtime runs
on :class:`.backends.onnxruntime.OnnxRuntimeWrapper` (threads)."""
from typing import Any, List, Optional

import torch
from mmdeploy.codebase.mmseg.deploy.segmentation_model import End2EndModel
from mmdeploy.utils import Backend, get_codebase_config

from rgpnet_mmseg.compat.mmdeploy import backend_segmentors
from rgpnet_mmseg.utils.run_config import decode_head_cfg
from .backends.onnxruntime import build_onnxruntime_wrapper
from .postprocess import postprocess

MODEL_TYPE = 'mmseg_end2end'


def use_mmseg_labels(deploy_cfg: Any, model_cfg: Any) -> Any:
    """Make ``deploy_cfg`` (changed in place, returned) build
    :class:`MMSegEnd2EndModel` with ``model_cfg``'s postprocessing:
    ``codebase_config.model_type``, ``align_corners``, ``threshold``."""
    head = decode_head_cfg(model_cfg)
    codebase = deploy_cfg.setdefault('codebase_config', {})
    codebase.update(model_type=MODEL_TYPE,
                    align_corners=bool(head.get('align_corners', False)),
                    threshold=float(head.get('threshold', None) or 0.3))
    return deploy_cfg


@backend_segmentors().register_module(MODEL_TYPE)
class MMSegEnd2EndModel(End2EndModel):
    """mmdeploy's ``End2EndModel`` with mmseg's labels.

    Args: those of mmdeploy's ``End2EndModel`` (``backend``,
    ``backend_files``, ``device``, ``deploy_cfg``, ``data_preprocessor``).

    Attributes:
        with_logits (bool): Also set ``seg_logits`` (the logits at the
            image size, mmseg's ``postprocess_result``); default False:
            labels only, by the exact shortcut that resizes only the logits
            of pixels next to class boundaries.
        input_range (tuple | None): A TensorRT engine's (min, max) input
            shape, else None.
    """
    with_logits = False

    def _init_wrapper(self, backend: Backend, backend_files: List[str],
                      device: str, **kwargs) -> None:
        if backend == Backend.ONNXRUNTIME:
            self.wrapper = build_onnxruntime_wrapper(
                backend_files, device, self.output_names, self.deploy_cfg)
        else:
            super()._init_wrapper(backend, backend_files, device, **kwargs)
        wrapper = self.wrapper
        self.input_range = wrapper.input_range(self.input_name) if hasattr(
            wrapper, 'input_range') else None

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'predict', **kwargs) -> list:
        """The backend on ``inputs`` (N, C, H, W), packed into
        ``data_samples`` by :meth:`pack_result`."""
        assert mode == 'predict', f'backend models only predict, not {mode}'
        outputs = self.wrapper({self.input_name: inputs.to(self.device)})
        return self.pack_result(outputs[self.output_names[0]], data_samples)

    def pack_result(self, batch_outputs: torch.Tensor,
                    data_samples: list) -> list:
        """``pred_sem_seg`` (and with :attr:`with_logits` ``seg_logits``)
        at each sample's ``ori_shape``, as mmseg's."""
        cfg = get_codebase_config(self.deploy_cfg)
        return postprocess(batch_outputs.cpu(), data_samples,
                           cfg.get('align_corners', False),
                           cfg.get('threshold', 0.3), self.with_logits)
