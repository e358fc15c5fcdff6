# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""TensorRT 10/11 for mmdeploy (1.3.1 uses the binding API removed in 10,
mmdeploy#2758): :class:`TensorRTManager` (:func:`build_engine`: FP32
without TF32, a torch INT8 calibrator; :class:`TRTWrapper` on its own
stream). :func:`precision_mode`, :func:`builder_precision` import no
TensorRT."""
import ctypes
import importlib.metadata
import itertools
import logging
import os.path as osp
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Sequence

import numpy as np
import torch
from mmdeploy.backend.base import BaseWrapper

try:  # mmdeploy's first: it registers its manager on import (and imports
    import mmdeploy.backend.tensorrt  # noqa: F401  a broken TensorRT)
except Exception:  # noqa: BLE001
    pass
from mmdeploy.backend.tensorrt.backend_manager import \
    TensorRTManager as MMDeployTensorRTManager  # noqa: E402

from ..checks import precision_mode  # noqa: E402
from ..quantize import read_calibration_data  # noqa: E402
from . import register_own_backend  # noqa: E402

logger = logging.getLogger('rgpnet_mmseg.deploy')

FP16_TYPINGS = ('auto', 'flag', 'strong')
_DTYPES = dict(
    FLOAT=torch.float32, HALF=torch.float16, BF16=torch.bfloat16,
    INT32=torch.int32, INT64=torch.int64, INT8=torch.int8,
    UINT8=torch.uint8, BOOL=torch.bool)


class ShapeOutsideProfileError(ValueError):
    """An input shape the engine was not built for."""


def import_tensorrt():
    """``import tensorrt``, or an ImportError that says what is missing."""
    try:
        import tensorrt as trt
    except ImportError as err:
        raise ImportError(
            'TensorRT is not installed: `pip install tensorrt` (with a CUDA '
            'build of torch and an NVIDIA GPU) to build and run engines'
        ) from err
    return trt


def installed_tensorrt_version() -> Optional[str]:
    """The installed TensorRT's version (package metadata), else None."""
    for dist in ('tensorrt', 'tensorrt-cu13', 'tensorrt-cu12',
                 'tensorrt-cu11', 'tensorrt-libs'):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def mmdeploy_tensorrt_unusable(version: Optional[str]) -> Optional[str]:
    """Why mmdeploy's backend cannot run with TensorRT ``version``, or None."""
    if version is None or int(version.split('.')[0]) < 10:
        return None
    return (f'TensorRT {version} removed the binding API that mmdeploy '
            '1.3.1 uses, mmdeploy#2758')


def tensorrt_unavailable_reason() -> Optional[str]:
    """None when TensorRT engines can be built and run here, else why not."""
    try:
        import_tensorrt()
    except ImportError as err:
        return str(err)
    except Exception as err:  # noqa: BLE001 - e.g. OSError: a broken install
        return f'tensorrt cannot be imported: {err}'
    if not torch.cuda.is_available():
        return (f'TensorRT needs an NVIDIA GPU and a CUDA build of torch '
                f'(torch {torch.__version__}, CUDA available: False)')
    return None


def builder_precision(common_config: Dict[str, Any], has_fp16_flag: bool,
                      has_int8: bool = True) -> Dict[str, bool]:
    """The builder's flags for ``common_config`` (:func:`precision_mode`;
    ``fp16_typing`` 'flag', 'strong' (a float16 graph, strongly typed) or
    'auto': the flag where ``has_fp16_flag``; INT8 needs ``has_int8``).
    Returns ``fp16_flag``, ``strongly_typed`` and ``tf32`` (FP32: False)."""
    mode, typing = precision_mode(common_config), common_config.get(
        'fp16_typing', 'auto')
    if mode == 'int8' and not has_int8:
        raise ValueError(
            'backend_config.common_config.int8_mode: this TensorRT has no '
            'implicit INT8 calibration (BuilderFlag.INT8, IInt8Entropy'
            'Calibrator2: deprecated in TensorRT 10, removed in 11); for '
            'explicit quantization build from a QDQ ONNX (rgpnet_mmseg.'
            "deploy.quantize.quantize_onnx(..., quant_format='QDQ'))")
    if typing not in FP16_TYPINGS:
        raise ValueError(f'fp16_typing must be one of {FP16_TYPINGS}, got '
                         f'{typing!r}')
    if mode == 'fp16' and typing == 'flag' and not has_fp16_flag:
        raise ValueError('This TensorRT has no BuilderFlag.FP16 (weak typing '
                         'was removed in TensorRT 11); use fp16_typing='
                         '"strong" or "auto"')
    strong = mode == 'fp16' and (typing == 'strong' or
                                 (typing == 'auto' and not has_fp16_flag))
    fp16 = mode == 'fp16' or (mode == 'int8' and bool(
        common_config.get('fp16_mode')) and has_fp16_flag)
    return dict(fp16_flag=fp16 and not strong, strongly_typed=strong,
                tf32=mode != 'fp32')


def calibration_batches(calib_file: str,
                        opt_shape: Sequence[int]) -> Iterator[np.ndarray]:
    """A calibration file's inputs as mmdeploy's ``HDF5Calibrator`` gives
    them: float32, tiled and cropped to ``opt_shape`` (N, C, H, W)."""
    batches = read_calibration_data(calib_file)

    def fit(x: np.ndarray) -> np.ndarray:
        x = np.tile(x, [-(-s // d) for s, d in zip(opt_shape, x.shape)])
        return np.ascontiguousarray(x[tuple(slice(0, s) for s in opt_shape)])
    return map(fit, itertools.chain([next(batches)], batches))


def entropy_calibrator(trt, calib_file: str, opt_shape: Sequence[int],
                       device: torch.device):
    """A ``trt.IInt8EntropyCalibrator2`` of :func:`calibration_batches`."""

    class Calibrator(trt.IInt8EntropyCalibrator2):

        def __init__(self):
            super().__init__()
            self.batches = calibration_batches(calib_file, opt_shape)
            self.held = None

        def get_batch_size(self) -> int:
            return 1  # explicit batch: the batch is in the shapes

        def get_batch(self, names: Sequence[str], *_) -> Optional[list]:
            batch = next(self.batches, None)
            if batch is None:
                return None
            self.held = torch.from_numpy(batch).to(device)  # alive until
            torch.cuda.synchronize(device)  # the next batch
            return [int(self.held.data_ptr())] * len(names)

        def read_calibration_cache(self, *_):
            return None

        def write_calibration_cache(self, *_):
            return None

    return Calibrator()


def input_range(shape: Sequence[int], profile: Optional[Sequence] = None):
    """``(min_shape, max_shape)`` of an input: its ``shape`` if static, else
    by its profile ``(min, [opt,] max)``."""
    lo, hi = (shape, shape) if min(shape) >= 0 else (profile[0], profile[-1])
    return tuple(map(int, lo)), tuple(map(int, hi))


def config_input_range(deploy_cfg: Any, name: str = 'input'):
    """:func:`input_range` of ``name`` by ``model_inputs[0]`` (or None)."""
    p = (((deploy_cfg.get('backend_config') or {}).get('model_inputs')
          or [{}])[0].get('input_shapes') or {}).get(name)
    return p and input_range((-1, ), (p['min_shape'], p['max_shape']))


def check_input_shape(name: str, shape: Sequence[int], lo: Sequence[int],
                      hi: Sequence[int]) -> None:
    """Raise :class:`ShapeOutsideProfileError` unless ``lo <= shape <= hi``."""
    if len(shape) != len(lo) or not all(
            a <= s <= b for a, s, b in zip(lo, shape, hi)):
        x = 'x'.join
        raise ShapeOutsideProfileError(
            f'Input {name!r} of shape {x(map(str, shape))} is outside the '
            f'engine\'s range {x(map(str, lo))} .. {x(map(str, hi))}')


def float16_graph(onnx_file: str):
    """A float16 copy of an ONNX graph with float32 inputs and outputs."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16
    return convert_float_to_float16(onnx.load(onnx_file), keep_io_types=True)


def _device(device: Any) -> torch.device:
    if torch.device(device).type != 'cuda':
        raise ValueError(f'TensorRT runs on a CUDA device, got {device}')
    return torch.device('cuda', torch.device(device).index or 0)


def build_engine(onnx_file: str, engine_path: str,
                 input_shapes: Optional[Dict[str, Dict[str, Any]]] = None,
                 common_config: Optional[Dict[str, Any]] = None,
                 device: str = 'cuda:0',
                 calib_file: Optional[str] = None) -> str:
    """Build a TensorRT engine from an ONNX file; returns ``engine_path``.
    ``input_shapes``: ``{input: dict(min_shape=, opt_shape=, max_shape=)}``
    (static inputs need none); ``common_config``: ``max_workspace_size``,
    the precision; ``calib_file``: INT8's calibration data."""
    import onnx
    common_config = dict(common_config or {})
    int8 = precision_mode(common_config) == 'int8'
    if int8 and calib_file is None:
        raise ValueError('int8_mode needs a calibration file (calib_config='
                         "dict(create_calib=True, calib_file='calib_data.h5')"
                         ' in the deploy config)')
    if int8:  # a missing file, no inputs in it: before any work
        calibration_batches(calib_file, ())
    trt = import_tensorrt()
    precision = builder_precision(
        common_config, hasattr(trt.BuilderFlag, 'FP16'),
        hasattr(trt.BuilderFlag, 'INT8')
        and hasattr(trt, 'IInt8EntropyCalibrator2'))
    torch.cuda.set_device(_device(device))
    trt_logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(trt_logger)
    creation, flags = trt.NetworkDefinitionCreationFlag, 0
    if int(trt.__version__.split('.')[0]) < 10:
        flags |= 1 << int(creation.EXPLICIT_BATCH)
    if precision['strongly_typed']:
        flags |= 1 << int(creation.STRONGLY_TYPED)
    model = (float16_graph if precision['strongly_typed'] else onnx.load)(
        onnx_file)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse(model.SerializeToString()):
        errors = '\n'.join(
            str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f'TensorRT cannot parse {onnx_file}:\n{errors}')
    config = builder.create_builder_config()
    config.set_memory_pool_limit(
        trt.MemoryPoolType.WORKSPACE,
        int(common_config.get('max_workspace_size', 1 << 30)))
    if precision['fp16_flag']:
        config.set_flag(trt.BuilderFlag.FP16)
    if hasattr(trt.BuilderFlag, 'TF32'):  # on by default in TensorRT
        (config.set_flag if precision['tf32'] else config.clear_flag)(
            trt.BuilderFlag.TF32)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shapes = (input_shapes or {}).get(tensor.name)
        if shapes is None and min(tensor.shape) < 0:
            raise ValueError(
                f'Input {tensor.name!r} has dynamic shape {tensor.shape}: '
                'give its min_shape/opt_shape/max_shape (backend_config.'
                'model_inputs in the deploy config)')
        lo, opt, hi = (tuple(tensor.shape), ) * 3 if shapes is None else (
            tuple(shapes[k]) for k in ('min_shape', 'opt_shape', 'max_shape'))
        profile.set_shape(tensor.name, lo, opt, hi)
    config.add_optimization_profile(profile)
    if int8:  # on the profile's opt shape; `calibrator` held till built
        if network.num_inputs != 1:
            raise ValueError('INT8 calibration: one network input only')
        config.set_flag(trt.BuilderFlag.INT8)
        config.set_calibration_profile(profile)  # needed if dynamic
        calibrator = entropy_calibrator(trt, calib_file, opt,
                                        _device(device))
        config.int8_calibrator = calibrator
    logger.info(f'building a TensorRT {trt.__version__} engine '
                f'({precision}) -> {engine_path}')
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError('TensorRT failed to build the engine (see its '
                           'log above)')
    Path(engine_path).write_bytes(bytes(serialized))
    return engine_path


def load_mmdeploy_plugins() -> bool:
    """Load mmdeploy's TensorRT plugins if found (a failure is logged)."""
    from mmdeploy.backend.tensorrt.init_plugins import get_ops_path
    path = get_ops_path()
    if not path or not osp.exists(path):
        return False
    try:
        ctypes.CDLL(path)
        return True
    except OSError as err:
        logger.warning(f"mmdeploy's TensorRT plugins not loaded: {err}")
        return False


class TRTWrapper(BaseWrapper):
    """mmdeploy backend wrapper of an engine file, on its own CUDA stream."""

    def __init__(self, engine: str, device: str = 'cuda:0',
                 output_names: Optional[Sequence[str]] = None):
        trt = import_tensorrt()
        load_mmdeploy_plugins()
        self.device = _device(device)
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        with torch.cuda.device(self.device):
            self.engine = self._runtime.deserialize_cuda_engine(
                Path(engine).read_bytes())
            if self.engine is None:
                raise RuntimeError(
                    f'TensorRT {trt.__version__} cannot deserialize {engine} '
                    '(built by another TensorRT version or for another GPU?)')
            self.context = self.engine.create_execution_context()
            self._stream = torch.cuda.Stream(self.device)
        names = [self.engine.get_tensor_name(i)
                 for i in range(self.engine.num_io_tensors)]
        self._inputs = [n for n in names if self.engine.get_tensor_mode(n)
                        == trt.TensorIOMode.INPUT]
        self._outputs = [n for n in names if n not in self._inputs]
        super().__init__(output_names or self._outputs)

    def input_range(self, name: str):
        """:func:`input_range` of input ``name`` (profile 0)."""
        shape = self.engine.get_tensor_shape(name)
        return input_range(shape, None if min(shape) >= 0 else
                           self.engine.get_tensor_profile_shape(name, 0))

    def _dtype(self, name: str) -> torch.dtype:
        return _DTYPES[self.engine.get_tensor_dtype(name).name]

    def forward(self, inputs: Dict[str,
                                   torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Run the engine on ``inputs`` (name -> tensor)."""
        caller = torch.cuda.current_stream(self.device)
        tensors = {}
        for name in self._inputs:
            x = inputs[name].to(self.device, self._dtype(name)).contiguous()
            check_input_shape(name, tuple(x.shape), *self.input_range(name))
            self.context.set_input_shape(name, tuple(x.shape))
            tensors[name] = x
        self._stream.wait_stream(caller)  # inputs are written there
        with torch.cuda.stream(self._stream):
            for name in self._outputs:
                tensors[name] = torch.empty(
                    tuple(self.context.get_tensor_shape(name)),
                    dtype=self._dtype(name), device=self.device)
            for name, tensor in tensors.items():
                self.context.set_tensor_address(name, tensor.data_ptr())
            if not self.context.execute_async_v3(self._stream.cuda_stream):
                raise RuntimeError('TensorRT execute_async_v3 failed')
        caller.wait_stream(self._stream)
        for name, tensor in tensors.items():  # no reuse of the memory
            tensor.record_stream(  # before the other stream is done
                caller if name in self._outputs else self._stream)
        return {name: tensors[name] for name in self.output_names}


class TensorRTManager(MMDeployTensorRTManager):
    """mmdeploy's manager, :func:`build_engine` and :class:`TRTWrapper`."""

    @classmethod
    def build_wrapper(cls, backend_files: Sequence[str],
                      device: str = 'cuda:0', input_names=None,
                      output_names: Optional[Sequence[str]] = None,
                      deploy_cfg: Optional[Any] = None,
                      **kwargs) -> TRTWrapper:
        return TRTWrapper(backend_files[0], device, output_names)

    @classmethod
    def to_backend(cls, ir_files: Sequence[str], work_dir: str,
                   deploy_cfg: Any, log_level: int = logging.INFO,
                   device: str = 'cuda:0', **kwargs) -> Sequence[str]:
        """An engine per ONNX file; INT8 calibrated on ``calib_file``."""
        from mmdeploy.utils import get_calib_filename
        backend_cfg, calib = deploy_cfg['backend_config'], get_calib_filename(
            deploy_cfg)
        params = list(backend_cfg.get('model_inputs') or [])
        params += [{}] * (len(ir_files) - len(params))
        return [
            build_engine(f, osp.join(work_dir, p.get(
                'save_file', Path(f).stem + '.engine')), p.get('input_shapes'),
                backend_cfg.get('common_config'), device,
                calib and osp.join(work_dir, calib))
            for f, p in zip(ir_files, params)]


def register() -> bool:
    """:class:`TensorRTManager` as mmdeploy's where its own cannot run."""
    return register_own_backend('tensorrt', TensorRTManager,
                                mmdeploy_tensorrt_unusable(
                                    installed_tensorrt_version()))
