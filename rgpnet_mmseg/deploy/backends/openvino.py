# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""OpenVINO >= 2024 for mmdeploy, registered only there.

mmdeploy 1.3.1's OpenVINO wrapper imports ``openvino.inference_engine``
(removed in 2024.0), its converter runs Model Optimizer's ``mo`` (removed
in 2025.0). Where one is missing (:func:`mmdeploy_openvino_unusable`),
:func:`register` makes :class:`OpenVINOManager` mmdeploy's ``openvino``:
``openvino.convert_model`` (a static IR for a static config, else dynamic),
INT8 by ``nncf.quantize`` on ``calib_config``'s file, run by
:class:`OpenVINOWrapper`. ``backend_config`` (OpenVINO's CPU properties):
``inference_precision_hint`` 'f32' (default) or 'bf16' (OpenVINO's own
default on BF16 CPUs: set it), ``inference_num_threads``, ``quantization``
(INT8: ``nncf.quantize``'s keywords; ``preset`` by value, ``ignored_scope``
a dict). openvino is imported only inside functions."""
import contextlib
import importlib.metadata
import importlib.util
import logging
import os.path as osp
import shutil
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdeploy.backend.base import BaseWrapper

try:  # mmdeploy's first: it registers its manager on import
    import mmdeploy.backend.openvino  # noqa: F401
except Exception:  # noqa: BLE001
    pass
from mmdeploy.backend.openvino.backend_manager import \
    OpenVINOManager as MMDeployOpenVINOManager  # noqa: E402

from ..quantize import calibration_inputs, read_calibration_data  # noqa: E402,E501
from . import register_own_backend  # noqa: E402

logger = logging.getLogger('rgpnet_mmseg.deploy')

#: The versions tested (setup.cfg, tools/install.sh pin them).
OPENVINO_VERSION, NNCF_VERSION = '2026.4.0', '3.4.0'
PRECISION_HINTS = ('f32', 'bf16')
_INSTALLED = object()
_bf16_told = []


class OpenVINOIRError(RuntimeError):
    """An IR (``.xml`` + ``.bin``) that OpenVINO cannot read."""


def installed_openvino() -> Tuple[Optional[str], bool, bool]:
    """(openvino's version or None, whether ``openvino.inference_engine``
    exists, whether ``mo`` is on PATH), without importing openvino."""
    try:
        version = importlib.metadata.version('openvino')
        spec = importlib.util.find_spec('openvino')
    except Exception:  # noqa: BLE001 - PackageNotFoundError, a broken one
        return None, False, False
    roots = (spec and spec.submodule_search_locations) or []
    return version, any(
        osp.isdir(osp.join(r, 'inference_engine')) for r in roots), any(
            shutil.which(c) for c in ('mo', 'mo.py'))


def mmdeploy_openvino_unusable(version: Any = _INSTALLED,
                               inference_engine: bool = False,
                               mo: bool = False) -> Optional[str]:
    """Why mmdeploy 1.3.1's OpenVINO backend cannot run with OpenVINO
    ``version`` (default: the installed one, :func:`installed_openvino`)
    that has (or lacks) ``openvino.inference_engine`` and ``mo``; None:
    not installed, or mmdeploy's works."""
    if version is _INSTALLED:
        version, inference_engine, mo = installed_openvino()
    missing = [what for what, there in (
        ('openvino.inference_engine (its wrapper imports IECore)',
         inference_engine), ('Model Optimizer `mo` (its converter)', mo))
        if not there]
    if version is None or not missing:
        return None
    return f'OpenVINO {version} has no {" and no ".join(missing)}'


def openvino_unavailable_reason(int8: bool = False) -> Optional[str]:
    """None when IRs can be converted and run here (``int8``: and
    quantized with NNCF), else why not."""
    try:
        import openvino as ov
    except Exception as err:  # noqa: BLE001 - also a broken install
        if getattr(err, 'name', None) == 'openvino':  # ModuleNotFoundError
            return ('OpenVINO is not installed: `pip install openvino=='
                    f'{OPENVINO_VERSION}`')
        return f'openvino cannot be imported: {err!r}'
    if not hasattr(ov, 'convert_model'):
        return f'OpenVINO {ov.__version__} is too old: it needs >= 2024'
    if int8:
        try:
            import nncf  # noqa: F401
        except Exception as err:  # noqa: BLE001
            return (f'OpenVINO INT8 needs NNCF: `pip install nncf=='
                    f'{NNCF_VERSION}` ({err!r})')
    return None


def import_openvino(int8: bool = False):
    """``import openvino``, or an ImportError that says what is missing."""
    reason = openvino_unavailable_reason(int8)
    if reason:
        raise ImportError(reason)
    import openvino
    return openvino


def cpu_flags() -> Optional[set]:
    """The CPU's ISA flags from /proc/cpuinfo (None where there is none)."""
    with contextlib.suppress(OSError), open('/proc/cpuinfo') as f:
        return set(next((ln.split(':', 1)[1].split() for ln in f
                         if ln.startswith('flags')), []))
    return None


def has_bf16(flags: Optional[Iterable[str]],
             capabilities: Iterable[str]) -> bool:
    """Whether the CPU computes in BF16: ``avx512_bf16`` or ``amx_bf16``
    among its ``flags`` (None: unknown) and BF16 among OpenVINO's CPU
    ``OPTIMIZATION_CAPABILITIES``."""
    return 'BF16' in capabilities and (
        flags is None or bool({'avx512_bf16', 'amx_bf16'} & set(flags)))


def read_ir(core: Any, xml: str) -> Any:
    """``core.read_model`` of ``xml`` and its ``.bin``; an
    :class:`OpenVINOIRError` naming them for a missing or broken one."""
    weights = osp.splitext(xml)[0] + '.bin'
    try:
        return core.read_model(xml, weights)
    except RuntimeError as err:
        lines = [ln for ln in str(err).splitlines() if ln.strip()]
        missing = ', '.join(f for f in (xml, weights) if not osp.isfile(f))
        raise OpenVINOIRError(
            f'OpenVINO cannot read the IR {xml}'
            f'{f" ({missing} missing)" * bool(missing)}: '
            f'{lines[-1] if lines else err}') from err


class OpenVINOWrapper(BaseWrapper):
    """The IR ``ir_model_file`` (``.xml``, its ``.bin`` beside it) compiled
    for the CPU: ``PERFORMANCE_HINT='LATENCY'``, ``INFERENCE_NUM_THREADS``
    ``num_threads``, ``INFERENCE_PRECISION_HINT`` ``precision`` ('f32' or
    'bf16'); ``output_names`` (default: the IR's)."""

    def __init__(self, ir_model_file: str,
                 output_names: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None, precision: str = 'f32'):
        ov = import_openvino()
        core = ov.Core()
        if precision not in PRECISION_HINTS:
            raise ValueError('backend_config.inference_precision_hint must '
                             f"be 'f32' or 'bf16', not {precision!r}")
        config = dict(PERFORMANCE_HINT='LATENCY',
                      INFERENCE_PRECISION_HINT=precision)
        if num_threads:
            config['INFERENCE_NUM_THREADS'] = int(num_threads)
        self.compiled = core.compile_model(read_ir(core, ir_model_file),
                                           'CPU', config)
        self._request = self.compiled.create_infer_request()
        self._ports = {o.get_any_name(): o for o in self.compiled.outputs}
        super().__init__(list(output_names or self._ports))
        got = self.compiled.get_property('INFERENCE_PRECISION_HINT')
        caps = core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES')
        if precision == 'bf16' and not _bf16_told and not (
                has_bf16(cpu_flags(), caps) and got == ov.Type.bf16):
            _bf16_told.append(True)
            logger.warning(f'OpenVINO runs BF16 as {got.to_string()} here: '
                           'no avx512_bf16/amx_bf16 or no OpenVINO BF16')

    def forward(self, inputs: Dict[str, torch.Tensor]
                ) -> Dict[str, torch.Tensor]:
        """Infer NCHW tensors by input name; outputs by name (copies)."""
        out = self._request.infer({
            name: t.detach().cpu().float().contiguous().numpy()
            for name, t in inputs.items()})
        return {n: torch.from_numpy(np.asarray(out[self._ports[n]]))
                for n in self.output_names}


def ir_input_shapes(deploy_cfg: Any) -> Optional[Dict[str, List[int]]]:
    """The static IR input shape ``{name: [1, 3, H, W]}`` of a static
    config (``onnx_config.input_shape``), None for a dynamic one."""
    from mmdeploy.utils import get_input_shape, get_ir_config, \
        is_dynamic_shape
    if is_dynamic_shape(deploy_cfg) or not get_input_shape(deploy_cfg):
        return None
    w, h = get_input_shape(deploy_cfg)
    names = get_ir_config(deploy_cfg).get('input_names') or ['input']
    return {names[0]: [1, 3, h, w]}


def quantize_ir(model: Any, calib_file: Optional[str],
                shapes: Optional[Dict[str, List[int]]],
                quantization: Dict[str, Any]) -> Any:
    """``nncf.quantize`` of an OpenVINO ``model`` on the inputs of an
    mmdeploy calibration file, resized (bilinear) to a static ``shapes``."""
    import nncf
    hw = next(iter(shapes.values()))[2:] if shapes else None
    data = list(calibration_inputs(read_calibration_data(calib_file), hw))
    kw = dict(quantization, subset_size=quantization.get('subset_size',
                                                         len(data)))
    if isinstance(kw.get('preset'), str):
        kw['preset'] = nncf.QuantizationPreset(kw['preset'])
    if 'ignored_scope' in kw:
        kw['ignored_scope'] = nncf.IgnoredScope(**kw['ignored_scope'])
    return nncf.quantize(model, nncf.Dataset(data), **kw)


class OpenVINOManager(MMDeployOpenVINOManager):
    """mmdeploy's manager: IRs by ``convert_model`` (+ NNCF), run by
    :class:`OpenVINOWrapper`."""

    @classmethod
    def build_wrapper(cls, backend_files: Sequence[str], device: str = 'cpu',
                      input_names=None,
                      output_names: Optional[Sequence[str]] = None,
                      deploy_cfg: Optional[Any] = None,
                      **kwargs) -> OpenVINOWrapper:
        if not str(device).startswith('cpu'):
            raise ValueError(f'OpenVINO runs on the CPU, not {device}')
        cfg = (deploy_cfg or {}).get('backend_config') or {}
        return OpenVINOWrapper(backend_files[0], output_names,
                               cfg.get('inference_num_threads'),
                               cfg.get('inference_precision_hint') or 'f32')

    @classmethod
    def to_backend(cls, ir_files: Sequence[str], work_dir: str,
                   deploy_cfg: Any, log_level: int = logging.INFO,
                   device: str = 'cpu', **kwargs) -> Sequence[str]:
        """``<work_dir>/<onnx name>.xml`` + ``.bin`` per ONNX file (FP32
        weights); INT8 (``backend_config.quantization``) calibrated on
        ``work_dir``'s ``calib_config.calib_file``."""
        from mmdeploy.utils import get_calib_filename
        quantization = deploy_cfg['backend_config'].get('quantization')
        ov = import_openvino(int8=bool(quantization))
        shapes, files = ir_input_shapes(deploy_cfg), []
        for onnx_file in ir_files:
            model = ov.convert_model(onnx_file, input=shapes)
            if quantization:  # as deploy_precision, run_deploy
                calib = get_calib_filename(deploy_cfg)
                model = quantize_ir(model, calib and osp.join(
                    work_dir, calib), shapes, quantization)
            files.append(osp.join(work_dir, Path(onnx_file).stem + '.xml'))
            ov.save_model(model, files[-1], compress_to_fp16=False)
        return files


def register() -> bool:
    """:class:`OpenVINOManager` as mmdeploy's ``openvino`` where mmdeploy's
    cannot run (:func:`mmdeploy_openvino_unusable`)."""
    return register_own_backend('openvino', OpenVINOManager,
                                mmdeploy_openvino_unusable())
