# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Our backend model ``mmseg_end2end`` (:func:`use_mmseg_labels`): mmseg's
labels (:func:`.postprocess.postprocess`), not the nearest-resized argmax of
mmdeploy's ``'end2end'``; ONNX Runtime with threads."""
from typing import Any, Dict, List, Optional, Tuple

import torch
from mmdeploy.codebase.mmseg.deploy.segmentation_model import End2EndModel
from mmdeploy.utils import Backend, get_codebase_config

from rgpnet_mmseg.compat.mmdeploy import backend_segmentors
from rgpnet_mmseg.utils.run_config import decode_head_cfg
from .backends.onnxruntime import OnnxRuntimeWrapper
from .postprocess import postprocess

MODEL_TYPE = 'mmseg_end2end'


def use_mmseg_labels(deploy_cfg: Any, model_cfg: Any) -> Any:
    """Set ``deploy_cfg`` up for :class:`MMSegEnd2EndModel` (in place)."""
    head = decode_head_cfg(model_cfg)
    codebase = deploy_cfg.setdefault('codebase_config', {})
    codebase.update(model_type=MODEL_TYPE,
                    align_corners=bool(head.get('align_corners', False)),
                    threshold=float(head.get('threshold', None) or 0.3))
    return deploy_cfg


class ModelFileMismatch(ValueError):
    """A model file whose inputs or outputs are not what its configs say."""


def _dims(shape) -> List[int]:
    return [d if isinstance(d, int) and d >= 0 else -1 for d in shape]


def model_io(wrapper: Any) -> Tuple[Dict[str, list], Dict[str, list]]:
    """``({input: shape}, {output: shape})`` of a backend wrapper's model
    (ONNX Runtime, OpenVINO, TensorRT; -1 for a dynamic axis)."""
    if hasattr(wrapper, 'sess'):  # ONNX Runtime
        ios = (wrapper.sess.get_inputs(), wrapper.sess.get_outputs())
        return tuple({t.name: _dims(t.shape) for t in io} for io in ios)
    if hasattr(wrapper, 'compiled'):  # OpenVINO
        ios = (wrapper.compiled.inputs, wrapper.compiled.outputs)
        return tuple({p.get_any_name(): _dims(
            d.get_length() if d.is_static else -1
            for d in p.get_partial_shape()) for p in io} for io in ios)
    engine = wrapper.engine  # TensorRT
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    shapes = {n: _dims(engine.get_tensor_shape(n)) for n in names}
    inputs = {n: shapes[n] for n in names if str(
        engine.get_tensor_mode(n)).endswith('INPUT')}
    return inputs, {n: s for n, s in shapes.items() if n not in inputs}


def onnx_output_channels(onnx_file: str) -> int:
    """The channels of an ONNX graph's first output: those of the last
    convolution before it (1: an ArgMax; -1: none found)."""
    import onnx
    graph = onnx.load(onnx_file, load_external_data=False).graph
    producer = {o: n for n in graph.node for o in n.output}
    weights = {t.name: t.dims for t in graph.initializer}
    name = graph.output[0].name
    while name in producer:
        node = producer[name]
        if node.op_type in ('Conv', 'ArgMax'):
            return 1 if node.op_type == 'ArgMax' else int(
                weights.get(node.input[1], [-1])[0])
        name = node.input[0]
    return -1


def check_model_io(wrapper: Any, deploy_cfg: Any, num_classes: int,
                   model_file: str) -> None:
    """Raise :class:`ModelFileMismatch` unless ``model_file``'s inputs are
    ``input_names`` (3 channels) and its output ``num_classes`` channels."""
    names = list((deploy_cfg.get('onnx_config') or {}).get('input_names')
                 or ['input'])
    inputs, outputs = model_io(wrapper)
    argmax = (deploy_cfg.get('codebase_config') or {}).get('with_argmax')
    classes = 1 if argmax else num_classes
    out = next(iter(outputs.values()), [])
    if len(out) > 1 and out[1] == -1 and model_file.endswith('.onnx'):
        out[1] = onnx_output_channels(model_file)
    problem = (
        f'inputs {sorted(inputs)}, deploy_cfg.py names {names}'
        if sorted(inputs) != sorted(names) else
        f'input {names[0]!r} has {inputs[names[0]][1]} channels, not 3'
        if inputs[names[0]][1] not in (3, -1) else
        f'its output has {out[1]} channels, the model config '
        f'{"(with_argmax) 1" if argmax else f"{num_classes} classes"}'
        if len(out) > 1 and out[1] not in (classes, -1) else None)
    if problem:
        raise ModelFileMismatch(f'{model_file} does not fit its configs: '
                                f'{problem}')


@backend_segmentors().register_module(MODEL_TYPE)
class MMSegEnd2EndModel(End2EndModel):
    """mmdeploy's ``End2EndModel`` (same arguments) with mmseg's labels.

    Attributes:
        with_logits (bool): Also set ``seg_logits``; default False: labels
            only, by :func:`.postprocess.resized_labels`.
        input_range (tuple | None): A TensorRT engine's (min, max) input
            shape, else None.
    """
    with_logits = False

    def _init_wrapper(self, backend: Backend, backend_files: List[str],
                      device: str, **kwargs) -> None:
        if backend == Backend.ONNXRUNTIME:  # with backend_config's threads
            cfg = (self.deploy_cfg or {}).get('backend_config') or {}
            self.wrapper = OnnxRuntimeWrapper(backend_files[0], device,
                                              self.output_names,
                                              cfg.get('intra_op_num_threads'))
        else:
            super()._init_wrapper(backend, backend_files, device, **kwargs)
        input_range = getattr(self.wrapper, 'input_range', None)
        self.input_range = input_range and input_range(self.input_name)

    def forward(self, inputs: torch.Tensor,
                data_samples: Optional[list] = None, mode: str = 'predict',
                **kwargs) -> list:
        """The backend on ``inputs`` (N, C, H, W), by :meth:`pack_result`."""
        assert mode == 'predict', f'backend models only predict, not {mode}'
        outputs = self.wrapper({self.input_name: inputs.to(self.device)})
        return self.pack_result(outputs[self.output_names[0]], data_samples)

    def pack_result(self, batch_outputs: torch.Tensor,
                    data_samples: list) -> list:
        """Each sample's ``pred_sem_seg`` (and ``seg_logits``), as mmseg's."""
        cfg = get_codebase_config(self.deploy_cfg)
        return postprocess(batch_outputs.cpu(), data_samples,
                           cfg.get('align_corners', False),
                           cfg.get('threshold', 0.3), self.with_logits)
