# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""TensorRT engine building and inference for TensorRT 8.6, 10 and 11.

mmdeploy 1.3.1's ``TRTWrapper`` uses the binding API that TensorRT 10
removed (``get_binding_index``, ``binding_is_input``, ``set_binding_shape``,
``execute_async_v2``) and its builder sets ``EXPLICIT_BATCH`` and
``BuilderFlag.FP16``, both gone in TensorRT 11 (strongly typed networks
only). This module uses only the tensor-name API, which TensorRT has had
since 8.5:

* build: ``OnnxParser`` -> optimisation profile from the deploy config's
  ``min/opt/max_shape`` -> ``set_memory_pool_limit(WORKSPACE)`` ->
  ``build_serialized_network``. FP16 uses ``BuilderFlag.FP16`` where it
  exists (8.6, 10) and otherwise (11) a float16 copy of the ONNX graph
  built as a strongly typed network
  (:func:`~rgpnet_mmseg.deploy.onnx_graph.convert_to_fp16`).
* run: ``num_io_tensors`` / ``get_tensor_name`` / ``get_tensor_mode`` /
  ``set_input_shape`` / ``set_tensor_address`` / ``execute_async_v3`` on
  torch's current CUDA stream, with torch tensors as device buffers.

:class:`TensorRTManager` replaces mmdeploy's manager of the ``tensorrt``
backend (mmdeploy's backend registry), so that ``mmdeploy.apis.
inference_model``, ``build_task_processor(...).build_backend_model`` and
mmdeploy's ``to_backend`` use this code once ``rgpnet_mmseg.deploy`` is
imported. ``tensorrt`` itself is imported only when used.
"""
import logging
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

import onnx
import torch

from .onnx_graph import convert_to_fp16

logger = logging.getLogger('rgpnet_mmseg.deploy')

FP16_MODES = ('auto', 'flag', 'strong')


class ShapeOutsideProfileError(ValueError):
    """An input shape the engine was not built for."""


def import_tensorrt():
    """Import ``tensorrt`` or raise an ImportError that says what is
    missing."""
    try:
        import tensorrt as trt
    except ImportError as err:
        raise ImportError(
            'TensorRT is not installed: `pip install tensorrt` (with a CUDA '
            'build of torch and an NVIDIA GPU) to build and run engines'
        ) from err
    return trt


def tensorrt_unavailable_reason() -> Optional[str]:
    """None when TensorRT engines can be built and run here, else why not."""
    try:
        import_tensorrt()
    except ImportError as err:
        return str(err)
    except Exception as err:  # noqa: BLE001 - a broken install
        return f'tensorrt cannot be imported: {err}'
    if not torch.cuda.is_available():
        return (f'TensorRT needs an NVIDIA GPU and a CUDA build of torch '
                f'(torch {torch.__version__}, CUDA available: False)')
    return None


def trt_version(trt=None) -> tuple:
    """TensorRT's version as a tuple of ints, e.g. ``(10, 3, 0)``."""
    trt = trt or import_tensorrt()
    return tuple(int(p) for p in trt.__version__.split('.')[:3] if p.isdigit())


def resolve_fp16_mode(trt, fp16_mode: str = 'auto') -> str:
    """``'flag'`` (``BuilderFlag.FP16``, TensorRT <= 10) or ``'strong'`` (a
    float16 graph in a strongly typed network, the only way in 11)."""
    if fp16_mode not in FP16_MODES:
        raise ValueError(f'fp16_mode must be one of {FP16_MODES}, '
                         f'got {fp16_mode!r}')
    has_flag = hasattr(trt.BuilderFlag, 'FP16')
    if fp16_mode == 'auto':
        return 'flag' if has_flag else 'strong'
    if fp16_mode == 'flag' and not has_flag:
        raise RuntimeError(
            f'TensorRT {trt.__version__} has no BuilderFlag.FP16 (weak '
            'typing was removed in TensorRT 11); use fp16_mode="strong"')
    return fp16_mode


def _network_flags(trt, strongly_typed: bool) -> int:
    flags = 0
    creation = trt.NetworkDefinitionCreationFlag
    if trt_version(trt)[0] < 10 and hasattr(creation, 'EXPLICIT_BATCH'):
        flags |= 1 << int(creation.EXPLICIT_BATCH)
    if strongly_typed:
        if hasattr(creation, 'STRONGLY_TYPED'):
            flags |= 1 << int(creation.STRONGLY_TYPED)
        else:
            logger.warning(f'TensorRT {trt.__version__} has no strongly '
                           'typed networks; it may not keep the float16 '
                           'types of the graph')
    return flags


def _device_index(device: Union[str, int, torch.device, None]) -> int:
    if device is None:
        return 0
    if isinstance(device, int):
        return device
    device = torch.device(device)
    if device.type != 'cuda':
        raise ValueError(f'TensorRT runs on a CUDA device, got {device}')
    return device.index or 0


def build_engine(onnx_model: Union[str, onnx.ModelProto],
                 engine_path: str,
                 input_shapes: Optional[Dict[str, Dict[str,
                                                       Sequence[int]]]] = None,
                 *,
                 fp16: bool = False,
                 fp16_mode: str = 'auto',
                 max_workspace_size: int = 1 << 30,
                 device: Union[str, int] = 'cuda:0',
                 verbose: bool = False) -> str:
    """Build a serialized TensorRT engine from an ONNX model.

    Args:
        onnx_model (str | onnx.ModelProto): The ONNX file or model.
        engine_path (str): Where to write the engine.
        input_shapes (dict, optional): ``{input name: dict(min_shape=...,
            opt_shape=..., max_shape=...)}`` (mmdeploy's
            ``backend_config.model_inputs[i].input_shapes``). Inputs with a
            fully static shape in the graph need no entry.
        fp16 (bool): Allow float16 kernels. Default: False.
        fp16_mode (str): ``'auto'``, ``'flag'`` or ``'strong'``, see
            :func:`resolve_fp16_mode`.
        max_workspace_size (int): Workspace memory pool limit in bytes.
        device (str | int): The CUDA device to build for.
        verbose (bool): TensorRT's verbose log.

    Returns:
        str: ``engine_path``.
    """
    trt = import_tensorrt()
    device_id = _device_index(device)
    torch.cuda.set_device(device_id)
    trt_logger = trt.Logger(
        trt.Logger.VERBOSE if verbose else trt.Logger.WARNING)
    model = onnx.load(onnx_model) if isinstance(onnx_model,
                                                str) else onnx_model
    strongly_typed = fp16 and resolve_fp16_mode(trt, fp16_mode) == 'strong'
    if strongly_typed:
        model = convert_to_fp16(model)
    builder = trt.Builder(trt_logger)
    network = builder.create_network(_network_flags(trt, strongly_typed))
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse(model.SerializeToString()):
        errors = '\n'.join(
            str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f'TensorRT cannot parse the ONNX model:\n{errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE,
                                 int(max_workspace_size))
    if fp16 and not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    input_shapes = dict(input_shapes or {})
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shape = tuple(tensor.shape)
        if tensor.name in input_shapes:
            p = input_shapes[tensor.name]
            lo, opt, hi = (tuple(p[k])
                           for k in ('min_shape', 'opt_shape', 'max_shape'))
        elif all(d >= 0 for d in shape):
            lo = opt = hi = shape
        else:
            raise ValueError(
                f'Input {tensor.name!r} has dynamic shape {shape}: give its '
                'min_shape/opt_shape/max_shape (backend_config.model_inputs '
                'in the deploy config)')
        profile.set_shape(tensor.name, lo, opt, hi)
    config.add_optimization_profile(profile)
    precision = 'FP32'
    if fp16:
        precision = 'FP16, ' + ('strongly typed float16 graph'
                                if strongly_typed else 'BuilderFlag.FP16')
    logger.info(f'building TensorRT {trt.__version__} engine ({precision}) '
                f'-> {engine_path}')
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError('TensorRT failed to build the engine (see the '
                           'TensorRT log above)')
    os.makedirs(osp.dirname(osp.abspath(engine_path)), exist_ok=True)
    with open(engine_path, 'wb') as f:
        f.write(bytes(serialized))
    return engine_path


def build_engines_from_deploy_cfg(ir_files: Sequence[str], work_dir: str,
                                  deploy_cfg: Any,
                                  device: str = 'cuda:0') -> List[str]:
    """Build one engine per ONNX file with the deploy config's
    ``backend_config``: ``common_config.fp16_mode`` / ``max_workspace_size``
    / ``fp16_typing`` (ours: ``'auto'``, ``'flag'`` or ``'strong'``, see
    :func:`resolve_fp16_mode`) and ``model_inputs[i].input_shapes`` /
    ``save_file``."""
    backend_cfg = deploy_cfg['backend_config']
    common = dict(backend_cfg.get('common_config', {}) or {})
    model_inputs = list(backend_cfg.get('model_inputs', []) or [])
    if model_inputs and len(model_inputs) != len(ir_files):
        raise ValueError(f'backend_config.model_inputs has '
                         f'{len(model_inputs)} entries for {len(ir_files)} '
                         'ONNX files')
    engines = []
    for i, onnx_path in enumerate(ir_files):
        params = model_inputs[i] if model_inputs else {}
        name = osp.splitext(osp.basename(onnx_path))[0]
        save_file = params.get('save_file', name + '.engine')
        engines.append(
            build_engine(
                onnx_path,
                osp.join(work_dir, save_file),
                params.get('input_shapes'),
                fp16=bool(common.get('fp16_mode', False)),
                fp16_mode=common.get('fp16_typing', 'auto'),
                max_workspace_size=common.get('max_workspace_size', 1 << 30),
                device=device))
    return engines


def _torch_dtype(trt, trt_dtype) -> torch.dtype:
    table = {
        'float32': torch.float32,
        'float16': torch.float16,
        'bfloat16': torch.bfloat16,
        'int32': torch.int32,
        'int64': torch.int64,
        'int8': torch.int8,
        'uint8': torch.uint8,
        'bool': torch.bool,
    }
    for name, dtype in table.items():
        if hasattr(trt, name) and trt_dtype == getattr(trt, name):
            return dtype
    raise TypeError(f'Unsupported TensorRT data type {trt_dtype}')


class TRTRunner:
    """Run a serialized TensorRT engine with the tensor-name API.

    Args:
        engine (str | bytes): Engine file or its bytes.
        device (str): CUDA device. Default: ``'cuda:0'``.

    Example:
        >>> runner = TRTRunner('work_dir/end2end.engine')
        >>> out = runner({'input': torch.randn(1, 3, 512, 1024)})['output']
    """

    def __init__(self, engine: Union[str, bytes], device: str = 'cuda:0'):
        trt = self.trt = import_tensorrt()
        self.device = torch.device('cuda', _device_index(device))
        torch.cuda.set_device(self.device)
        self._logger = trt.Logger(trt.Logger.WARNING)
        if isinstance(engine, str):
            with open(engine, 'rb') as f:
                engine = f.read()
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(engine)
        if self.engine is None:
            raise RuntimeError(
                'TensorRT cannot deserialize the engine (built by another '
                f'TensorRT version than {trt.__version__} or another GPU?)')
        self.context = self.engine.create_execution_context()
        names = [
            self.engine.get_tensor_name(i)
            for i in range(self.engine.num_io_tensors)
        ]
        mode_in = trt.TensorIOMode.INPUT
        self.input_names = [
            n for n in names if self.engine.get_tensor_mode(n) == mode_in
        ]
        self.output_names = [n for n in names if n not in self.input_names]

    def _check_shape(self, name: str, shape: Sequence[int]) -> None:
        try:
            lo, _, hi = self.engine.get_tensor_profile_shape(name, 0)
        except Exception:  # noqa: BLE001 - an engine without profiles
            return
        if len(shape) != len(lo) or any(
                not (a <= s <= b) for a, s, b in zip(lo, shape, hi)):
            raise ShapeOutsideProfileError(
                f'Input {name!r} of shape {tuple(shape)} is outside the '
                f'engine\'s profile {tuple(lo)} .. {tuple(hi)}')

    def __call__(
        self, inputs: Union[torch.Tensor, Dict[str, torch.Tensor]]
    ) -> Dict[str, torch.Tensor]:
        """Run the engine; returns the outputs by name (on the GPU), after
        the stream has finished."""
        if isinstance(inputs, torch.Tensor):
            inputs = {self.input_names[0]: inputs}
        stream = torch.cuda.current_stream(self.device)
        keep = []
        for name in self.input_names:
            dtype = _torch_dtype(self.trt, self.engine.get_tensor_dtype(name))
            tensor = inputs[name].to(self.device, dtype).contiguous()
            self._check_shape(name, tensor.shape)
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
            keep.append(tensor)
        missing = self.context.infer_shapes()
        if missing:
            raise RuntimeError(f'TensorRT cannot infer shapes; unset '
                               f'inputs: {missing}')
        outputs = {}
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            dtype = _torch_dtype(self.trt, self.engine.get_tensor_dtype(name))
            out = torch.empty(shape, dtype=dtype, device=self.device)
            self.context.set_tensor_address(name, out.data_ptr())
            outputs[name] = out
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError('TensorRT execute_async_v3 failed')
        stream.synchronize()
        return outputs


def _mmdeploy_base_wrapper():
    from mmdeploy.backend.base import BaseWrapper
    return BaseWrapper


class TRTWrapper(_mmdeploy_base_wrapper()):
    """mmdeploy backend wrapper (``forward(dict) -> dict``) around
    :class:`TRTRunner`, for TensorRT 8.6 to 11.

    Args:
        engine (str): Engine file.
        output_names (Sequence[str], optional): Outputs to return; default
            all.
        device (str): CUDA device.
    """

    def __init__(self,
                 engine: str,
                 output_names: Optional[Sequence[str]] = None,
                 device: str = 'cuda:0'):
        runner = TRTRunner(engine, device)
        super().__init__(output_names or runner.output_names)
        self.runner = runner

    def forward(self, inputs: Dict[str,
                                   torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Run the engine on ``inputs`` (name -> tensor)."""
        outputs = self.runner(inputs)
        return {name: outputs[name] for name in self.output_names}


def register_backend_manager() -> None:
    """Replace mmdeploy's manager of the ``tensorrt`` backend with
    :class:`TensorRTManager` (mmdeploy's backend registry)."""
    import importlib
    try:  # import mmdeploy's own first, so that it cannot override ours
        importlib.import_module('mmdeploy.backend.tensorrt')
    except Exception:  # noqa: BLE001 - a broken TensorRT install
        pass
    from mmdeploy.backend.base import BACKEND_MANAGERS
    from mmdeploy.backend.tensorrt.backend_manager import \
        TensorRTManager as MMDeployTensorRTManager

    class TensorRTManager(MMDeployTensorRTManager):
        """mmdeploy's TensorRT backend manager with engine building and
        inference of :mod:`rgpnet_mmseg.deploy.tensorrt`."""

        @classmethod
        def build_wrapper(cls,
                          backend_files: Sequence[str],
                          device: str = 'cuda:0',
                          input_names: Optional[Sequence[str]] = None,
                          output_names: Optional[Sequence[str]] = None,
                          deploy_cfg: Optional[Any] = None,
                          **kwargs):
            return TRTWrapper(
                backend_files[0], output_names=output_names, device=device)

        @classmethod
        def to_backend(cls,
                       ir_files: Sequence[str],
                       work_dir: str,
                       deploy_cfg: Any,
                       log_level: int = logging.INFO,
                       device: str = 'cuda:0',
                       **kwargs) -> List[str]:
            return build_engines_from_deploy_cfg(ir_files, work_dir,
                                                 deploy_cfg, device)

    TensorRTManager.__module__ = __name__
    from mmdeploy.utils import get_root_logger
    mmdeploy_logger = get_root_logger()
    level = mmdeploy_logger.level
    mmdeploy_logger.setLevel(logging.WARNING)  # "already registered": we know
    try:
        BACKEND_MANAGERS.register('tensorrt')(TensorRTManager)
    finally:
        mmdeploy_logger.setLevel(level)
    globals()['TensorRTManager'] = TensorRTManager
