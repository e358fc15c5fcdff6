# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""INT8: the one calibration file (mmdeploy's ``create_calib_input_data``,
read by ONNX Runtime's quantization and TensorRT's INT8 calibrator) and
static quantization with ``onnxruntime.quantization`` (docs/int8.md)."""
import copy
import os
import os.path as osp
from typing import Any, Iterable, Iterator, Optional, Sequence, Union

import numpy as np

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


def read_calibration_data(calib_file: str) -> Iterator[np.ndarray]:
    """The NCHW float32 inputs of an mmdeploy calibration HDF5 file
    (``calib_data/end2end/input/<i>``), in order of ``i``."""
    import h5py
    if not osp.isfile(calib_file):
        raise FileNotFoundError(f'Calibration file not found: {calib_file}')
    with h5py.File(calib_file, 'r') as f:
        group = f.get('calib_data/end2end/input')
        if group is None or not len(group):
            raise ValueError(f'{calib_file} holds no calibration inputs '
                             '(calib_data/end2end/input/<i>)')
        for key in sorted(group, key=int):
            yield group[key][...].astype(np.float32)


def _resized(x: np.ndarray, hw: Sequence[Any]) -> np.ndarray:
    """``x`` (N, C, h, w) resized bilinearly to a static (H, W) ``hw``
    (symbolic dims: unchanged)."""
    if not all(isinstance(d, int) and d > 0 for d in hw) or \
            tuple(x.shape[2:]) == tuple(hw):
        return x
    import torch
    import torch.nn.functional as F
    return F.interpolate(torch.from_numpy(x), size=tuple(hw),
                         mode='bilinear', align_corners=False).numpy()


def excluded_nodes(graph: Any, keys: Sequence[str]) -> list:
    """Names of the nodes of an ONNX ``graph`` that ``keys`` name (see
    :func:`quantize_onnx`'s ``exclude_nodes``)."""
    names = []
    for key in keys:
        op, _, index = key.partition('[')
        typed = [n.name for n in graph.node if n.op_type == op]
        found = [n.name for n in graph.node if n.name == key] or typed
        if index and typed and -len(typed) <= int(index[:-1]) < len(typed):
            found = [typed[int(index[:-1])]]
        elif index or not found:
            raise ValueError(f'exclude_nodes: no node {key!r} in the graph')
        names += found
    return names


def quantize_onnx(fp32_file: str, int8_file: str,
                  calibration: Union[str, Iterable[np.ndarray]], *,
                  quant_format: str = 'QOperator',
                  calibrate_method: str = 'Percentile',
                  per_channel: bool = True,
                  exclude_nodes: Sequence[str] = (),
                  **extra_options) -> str:
    """Quantize an FP32 ONNX model to INT8 with ONNX Runtime's static
    quantization (``onnxruntime.quantization.quantize_static``): weights
    int8 (per output channel with ``per_channel``), activations uint8 with
    ranges calibrated on ``calibration``.

    Args:
        fp32_file (str): The FP32 ONNX model (one input).
        int8_file (str): The quantized model to write.
        calibration (str | Iterable[np.ndarray]): an mmdeploy calibration
            HDF5 file (:func:`write_calibration_data`) or NCHW float32
            arrays. Arrays of another size than a static model input are
            resized (bilinear) to it; a dynamic model takes them as they are.
        quant_format (str): ``'QOperator'`` (QLinearConv...) or ``'QDQ'``.
        calibrate_method (str): ``'MinMax'``, ``'Entropy'``, ``'Percentile'``
            or ``'Distribution'``.
        per_channel (bool): Per-channel weight scales.
        exclude_nodes (Sequence[str]): Nodes left in FP32: names, op types
            (``'Resize'``) or ``'<op type>[i]'``, the i-th node of a type
            in graph order (``'Conv[0]'`` the first, ``'Conv[-1]'`` the
            last).
        **extra_options: ONNX Runtime's ``extra_options`` (e.g.
            ``CalibPercentile=99.99``).

    Returns:
        str: ``int8_file``.
    """
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader,
                                          CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    if not osp.isfile(fp32_file):
        raise FileNotFoundError(f'ONNX file not found: {fp32_file}')
    for value, enum, what in ((quant_format, QuantFormat, 'quant_format'),
                              (calibrate_method, CalibrationMethod,
                               'calibrate_method')):
        if value not in enum.__members__:
            raise ValueError(f'{what} must be one of '
                             f'{", ".join(enum.__members__)}, got {value!r}')
    graph = onnx.load(fp32_file, load_external_data=False).graph
    inp = graph.input[0]
    hw = [d.dim_value or d.dim_param for d in
          inp.type.tensor_type.shape.dim][2:]
    nodes = excluded_nodes(graph, exclude_nodes)
    if isinstance(calibration, str):
        calibration = read_calibration_data(calibration)

    class Reader(CalibrationDataReader):

        def __init__(self):
            self.feeds = ({inp.name: _resized(x, hw)} for x in calibration)

        def get_next(self):
            return next(self.feeds, None)

    quantize_static(
        fp32_file, int8_file, Reader(),
        quant_format=QuantFormat[quant_format], per_channel=per_channel,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        nodes_to_exclude=nodes,
        calibrate_method=CalibrationMethod[calibrate_method],
        extra_options=extra_options)
    return int8_file


def calibration_config(deploy_cfg: Any, model_cfg: Any,
                       dataset_cfg: Any = None,
                       image_dir: Optional[str] = None,
                       num_images: Optional[int] = None) -> Any:
    """The config (a copy) whose ``val_dataloader`` gives the calibration
    images of :func:`write_calibration_data` (same arguments; configs
    loaded): the val set of ``dataset_cfg`` (default ``model_cfg``) or the
    images under ``image_dir`` (through the val pipeline, annotations not
    loaded), the first ``num_images``, resized to a static input shape of
    ``deploy_cfg``. Raises a one-line error for what cannot be used."""
    from mmdeploy.utils import get_input_shape, load_config

    from .verify import resize_to_static
    if dataset_cfg is not None and image_dir is not None:
        raise ValueError('Give a calibration dataset config or an image '
                         'folder, not both')
    if isinstance(dataset_cfg, str) and not osp.isfile(dataset_cfg):
        raise FileNotFoundError(
            f'Calibration dataset config not found: {dataset_cfg}')
    name = f'config {dataset_cfg}' if isinstance(dataset_cfg,
                                                 str) else 'model config'
    data_cfg = load_config(dataset_cfg)[0] if dataset_cfg else model_cfg
    if 'val_dataloader' not in data_cfg:
        raise ValueError(f'The {name} has no val_dataloader to calibrate on')
    data_cfg = copy.deepcopy(data_cfg)
    loader = data_cfg.val_dataloader
    loader.update(num_workers=0, persistent_workers=False)
    if image_dir is not None:
        if not osp.isdir(image_dir):
            raise FileNotFoundError(
                f'Calibration image folder not found: {image_dir}')
        if not any(f.lower().endswith(IMAGE_SUFFIXES)
                   for _, _, files in os.walk(image_dir) for f in files):
            raise FileNotFoundError(
                f'No images ({", ".join(IMAGE_SUFFIXES)}) in {image_dir}')
        loader.dataset = dict(
            type='BaseSegDataset', data_root='',
            data_prefix=dict(img_path=image_dir), img_suffix=IMAGE_SUFFIXES,
            pipeline=[s for s in loader.dataset.pipeline
                      if 'Annotation' not in s['type']])
    else:
        dataset = loader.dataset
        img_dir = osp.join(dataset.get('data_root') or '',
                           (dataset.get('data_prefix') or {}).get(
                               'img_path', ''))
        if not osp.isdir(img_dir):
            raise FileNotFoundError(
                f'Calibration images not found: {img_dir} (val_dataloader '
                f'of the {name}; calibrate on other images or another '
                'config)')
    if num_images is not None:
        if int(num_images) < 1:
            raise ValueError(f'num_images must be >= 1, got {num_images}')
        loader.dataset.indices = int(num_images)
    resize_to_static(loader.dataset.pipeline, get_input_shape(deploy_cfg),
                     f'{name}: val_dataloader')
    return data_cfg


def write_calibration_data(calib_file: str, deploy_cfg: Any, model_cfg: Any,
                           checkpoint: Optional[str] = None, *,
                           dataset_cfg: Any = None,
                           image_dir: Optional[str] = None,
                           num_images: Optional[int] = None,
                           device: str = 'cpu') -> str:
    """Write the calibration file of INT8 (ONNX Runtime and TensorRT) with
    mmdeploy's ``create_calib_input_data``: the model's inputs (data
    preprocessor applied) for the val images of the model config, taken
    through its test pipeline (``Resize`` to a static input shape of the
    deploy config), as mmdeploy's TensorRT INT8 does.

    Args:
        calib_file (str): The HDF5 file to write
            (``calib_data/end2end/input/<i>``: (1, 3, H, W) float32).
        deploy_cfg (str | Config): The deploy config.
        model_cfg (str | Config): The model config.
        checkpoint (str, optional): The model checkpoint.
        dataset_cfg (str | Config, optional): Another config whose val set
            is used.
        image_dir (str, optional): A folder of images used instead (through
            the test pipeline).
        num_images (int, optional): Only the first N images.
        device (str): Where the data preprocessor runs.

    Returns:
        str: ``calib_file``.
    """
    from mmdeploy.apis import create_calib_input_data
    from mmdeploy.utils import load_config
    deploy_cfg, model_cfg = load_config(deploy_cfg, model_cfg)
    data_cfg = calibration_config(deploy_cfg, model_cfg, dataset_cfg,
                                  image_dir, num_images)
    os.makedirs(osp.dirname(osp.abspath(calib_file)), exist_ok=True)
    create_calib_input_data(calib_file, deploy_cfg, model_cfg, checkpoint,
                            dataset_cfg=data_cfg, device=device)
    return calib_file
