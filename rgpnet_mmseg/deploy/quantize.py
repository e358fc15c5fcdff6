# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""INT8: the calibration file (every backend's) and ONNX Runtime static
quantization (docs/int8.md)."""
import os
import os.path as osp
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Union

import numpy as np
from mmdeploy.apis import create_calib_input_data
from mmdeploy.utils import get_input_shape, load_config
from mmengine.config import Config

from rgpnet_mmseg.utils.files import IMAGE_EXTENSIONS, list_images
from .checks import split_dataloader_cfg


def read_calibration_data(calib_file: Optional[str]) -> Iterator[np.ndarray]:
    """A calibration file's NCHW float32 inputs, read lazily (checked now)."""
    if not calib_file or not osp.isfile(calib_file):
        raise FileNotFoundError(
            f'INT8 calibration file not found: {calib_file} (run '
            'tools/deploy.py, which writes it)')
    return _calibration_inputs(calib_file)


def _calibration_inputs(calib_file: str) -> Iterator[np.ndarray]:
    import h5py
    with h5py.File(calib_file, 'r') as f:
        group = f.get('calib_data/end2end/input')
        if not group:
            raise ValueError(f'{calib_file} holds no calibration inputs '
                             '(calib_data/end2end/input/<i>)')
        for key in sorted(group, key=int):
            yield group[key][...].astype(np.float32)


def calibration_inputs(calibration: Union[str, Iterable[np.ndarray]],
                       hw: Optional[Sequence[int]] = None
                       ) -> Iterator[np.ndarray]:
    """Calibration inputs (a file's, or arrays) resized to ``hw`` if given."""
    import torch
    if isinstance(calibration, str):
        calibration = read_calibration_data(calibration)
    for x in calibration:
        yield x if not hw or list(x.shape[2:]) == list(hw) else \
            torch.nn.functional.interpolate(
                torch.from_numpy(x), tuple(hw), mode='bilinear').numpy()


def excluded_nodes(graph: Any, keys: Sequence[str]) -> List[str]:
    """The ONNX ``graph``'s nodes that ``keys`` name (names, op types or
    ``'<op type>[i]'``, the i-th node of a type)."""
    names = []
    for key in keys:
        op, _, i = key.rstrip(']').partition('[')
        found = [n.name for n in graph.node if n.name == key] or [
            n.name for n in graph.node if n.op_type == op]
        if not found or i and not -len(found) <= int(i) < len(found):
            raise ValueError(f'exclude_nodes: no node {key!r} in the graph')
        names += [found[int(i)]] if i else found
    return names


def drop_initializer_identities(model: Any) -> int:
    """Remove (and count) ``Identity`` nodes on initializers (conv biases of
    a BN-fused TorchScript export), in which ``quantize_static`` fails."""
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    alias = {n.output[0]: n.input[0] for n in graph.node
             if n.op_type == 'Identity' and n.input[0] in inits
             and n.output[0] not in outputs}
    for node in graph.node:
        node.input[:] = [alias.get(name, name) for name in node.input]
    dropped = [n for n in graph.node
               if n.op_type == 'Identity' and n.output[0] in alias]
    for node in dropped:
        graph.node.remove(node)
    return len(dropped)


def quantize_onnx(fp32_file: str, int8_file: str,
                  calibration: Union[str, Iterable[np.ndarray]], *,
                  quant_format: str = 'QOperator',
                  calibrate_method: str = 'Percentile',
                  per_channel: bool = True,
                  exclude_nodes: Sequence[str] = (),
                  **extra_options) -> str:
    """An FP32 ONNX model (one input) to INT8 (int8 weights, uint8
    activations) by ONNX Runtime's ``quantize_static``; returns ``int8_file``.

    Args:
        fp32_file, int8_file (str): The FP32 model, the INT8 one to write.
        calibration (str | Iterable[np.ndarray]): :func:`calibration_inputs`
            (resized to a static input shape).
        quant_format (str): ``'QOperator'`` or ``'QDQ'``.
        calibrate_method (str): ``'MinMax'``, ``'Entropy'``, ``'Percentile'``.
        per_channel (bool): Per-channel weight scales.
        exclude_nodes (Sequence[str]): Nodes left in FP32
            (:func:`excluded_nodes`: ``'Resize'``, ``'Conv[-1]'``...).
        **extra_options: ONNX Runtime's ``extra_options``.
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader,
                                          CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    for value, enum in ((quant_format, QuantFormat),
                        (calibrate_method, CalibrationMethod)):
        if value not in enum.__members__:
            raise ValueError(f'{value!r} is none of '
                             f'{", ".join(enum.__members__)}')
    model = onnx.load(fp32_file)
    if drop_initializer_identities(model):
        onnx.save(model, fp32_file)
    graph, inp = model.graph, model.graph.input[0]
    hw = [d.dim_value for d in inp.type.tensor_type.shape.dim][2:]
    feeds = ({inp.name: x} for x in calibration_inputs(
        calibration, hw if all(hw) else None))
    reader = type('Reader', (CalibrationDataReader, ),
                  dict(get_next=lambda self: next(feeds, None)))()
    quantize_static(
        fp32_file, int8_file, reader,
        quant_format=QuantFormat[quant_format], per_channel=per_channel,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        nodes_to_exclude=excluded_nodes(graph, exclude_nodes),
        calibrate_method=CalibrationMethod[calibrate_method],
        extra_options=extra_options)
    return int8_file


def calibration_config(deploy_cfg: Any, model_cfg: Any,
                       dataset_cfg: Any = None,
                       image_dir: Optional[str] = None,
                       num_images: Optional[int] = None) -> Any:
    """A config whose ``val_dataloader`` gives :func:`write_calibration_data`'s
    images (same arguments); a one-line error for unusable images."""
    name = 'model config' if dataset_cfg is None else f'config {dataset_cfg}'
    data_cfg = load_config(dataset_cfg)[0] if dataset_cfg else model_cfg
    if 'val_dataloader' not in data_cfg:
        raise ValueError(f'The {name} has no val_dataloader to calibrate on')
    loader = split_dataloader_cfg(data_cfg, 'val',
                                  get_input_shape(deploy_cfg))  # a copy
    if image_dir is not None:
        if not list_images(image_dir):
            raise FileNotFoundError(
                f'No images ({", ".join(IMAGE_EXTENSIONS)}) in {image_dir}'
                if osp.isdir(image_dir) else
                f'Calibration image folder not found: {image_dir}')
        loader.dataset = dict(
            type='BaseSegDataset', data_root='',
            data_prefix=dict(img_path=image_dir),
            img_suffix=IMAGE_EXTENSIONS,
            pipeline=[s for s in loader.dataset.pipeline
                      if 'Annotation' not in s['type']])
    img_dir = osp.join(loader.dataset.get('data_root') or '',
                       loader.dataset.get('data_prefix', {}).get(
                           'img_path', ''))
    if not osp.isdir(img_dir):
        raise FileNotFoundError(
            f'Calibration images not found: {img_dir} (val_dataloader of '
            f'the {name}; calibrate on other images or another config)')
    if num_images is not None:
        loader.dataset.indices = max(int(num_images), 1)
    return Config(dict(val_dataloader=loader))


def write_calibration_data(calib_file: str, deploy_cfg: Any, model_cfg: Any,
                           checkpoint: Optional[str] = None, *,
                           dataset_cfg: Any = None, device: str = 'cpu',
                           image_dir: Optional[str] = None,
                           num_images: Optional[int] = None) -> str:
    """Write the INT8 calibration file by mmdeploy's
    ``create_calib_input_data`` (the model inputs of the val images:
    ``calib_data/end2end/input/<i>``, (1, 3, H, W) float32); returns it.

    Args:
        calib_file (str): The HDF5 file to write.
        deploy_cfg, model_cfg (str | Config): The configs.
        checkpoint (str, optional): The model checkpoint.
        dataset_cfg (str | Config, optional): Another config's val set.
        image_dir (str, optional): The images in a folder instead (through
            the test pipeline of ``dataset_cfg`` or ``model_cfg``).
        num_images (int, optional): Only the first N images.
        device (str): Where the data preprocessor runs.
    """
    deploy_cfg, model_cfg = load_config(deploy_cfg, model_cfg)
    data_cfg = calibration_config(deploy_cfg, model_cfg, dataset_cfg,
                                  image_dir, num_images)
    os.makedirs(osp.dirname(osp.abspath(calib_file)), exist_ok=True)
    create_calib_input_data(calib_file, deploy_cfg, model_cfg, checkpoint,
                            dataset_cfg=data_cfg, device=device)
    return calib_file
