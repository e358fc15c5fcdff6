# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""OpenVINO >= 2024 for mmdeploy (1.3.1 needs the removed ``inference_engine``
and ``mo``). ``backend_config``: ``inference_precision_hint`` ('f32', default,
or 'bf16'), ``inference_num_threads``, ``quantization`` (INT8: keywords of
``nncf.quantize``; ``preset`` by value, ``ignored_scope`` a dict)."""
import contextlib
import importlib.metadata
import importlib.util
import logging
import os.path as osp
import shutil
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple

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

#: The versions tested (pinned in setup.cfg).
OPENVINO_VERSION, NNCF_VERSION = '2026.4.0', '3.4.0'
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
    """Why mmdeploy 1.3.1's backend cannot run with OpenVINO ``version``
    (default: :func:`installed_openvino`), or None."""
    if version is _INSTALLED:
        version, inference_engine, mo = installed_openvino()
    missing = [what for what, there in (
        ('openvino.inference_engine (its wrapper imports IECore)',
         inference_engine), ('Model Optimizer `mo` (its converter)', mo))
        if not there]
    return f'OpenVINO {version} has no {" and no ".join(missing)}' if \
        version is not None and missing else None


def import_openvino(int8: bool = False):
    """``import openvino`` (>= 2024; ``int8``: and nncf), or an ImportError
    that says what is missing."""
    try:
        import openvino as ov
    except Exception as err:  # noqa: BLE001 - also a broken install
        raise ImportError(  # name: a ModuleNotFoundError of openvino itself
            'OpenVINO is not installed: `pip install openvino=='
            f'{OPENVINO_VERSION}`' if getattr(err, 'name', None) == 'openvino'
            else f'openvino cannot be imported: {err!r}') from err
    if not hasattr(ov, 'convert_model'):
        raise ImportError(
            f'OpenVINO {ov.__version__} is too old: it needs >= 2024')
    if int8:
        try:
            import nncf  # noqa: F401
        except Exception as err:  # noqa: BLE001
            raise ImportError(f'OpenVINO INT8 needs NNCF: `pip install nncf=='
                              f'{NNCF_VERSION}` ({err!r})') from err
    return ov


def cpu_flags() -> Optional[set]:
    """The CPU's ISA flags from /proc/cpuinfo (None where there is none)."""
    with contextlib.suppress(OSError), open('/proc/cpuinfo') as f:
        return set(next((ln.split(':', 1)[1].split() for ln in f
                         if ln.startswith('flags')), []))
    return None


def has_bf16(flags: Optional[Iterable[str]],
             capabilities: Iterable[str]) -> bool:
    """Whether the CPU computes in BF16: ``avx512_bf16``/``amx_bf16`` in
    ``flags`` (None: unknown) and BF16 in OpenVINO's ``capabilities``."""
    return 'BF16' in capabilities and (
        flags is None or bool({'avx512_bf16', 'amx_bf16'} & set(flags)))


def read_ir(core: Any, xml: str) -> Any:
    """``core.read_model`` of an IR, else :class:`OpenVINOIRError`."""
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
    """The IR ``ir_model_file`` (``.xml`` + ``.bin``) compiled for the CPU
    (latency hint, ``num_threads``, ``precision`` 'f32' or 'bf16')."""

    def __init__(self, ir_model_file: str,
                 output_names: Optional[Sequence[str]] = None,
                 num_threads: Optional[int] = None, precision: str = 'f32'):
        ov = import_openvino()
        core = ov.Core()
        if precision not in ('f32', 'bf16'):
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


def quantize_ir(model: Any, calib_file: Optional[str],
                hw: Optional[Sequence[int]], quantization: Dict[str, Any]
                ) -> Any:
    """``nncf.quantize`` of ``model`` on a calibration file (resized to a
    static ``hw``)."""
    import nncf
    data = list(calibration_inputs(read_calibration_data(calib_file), hw))
    kw = {'subset_size': len(data), **quantization}
    if isinstance(kw.get('preset'), str):
        kw['preset'] = nncf.QuantizationPreset(kw['preset'])
    if 'ignored_scope' in kw:
        kw['ignored_scope'] = nncf.IgnoredScope(**kw['ignored_scope'])
    return nncf.quantize(model, nncf.Dataset(data), **kw)


class OpenVINOManager(MMDeployOpenVINOManager):
    """mmdeploy's manager: ``convert_model``, :class:`OpenVINOWrapper`."""

    @classmethod
    def build_wrapper(cls, backend_files: Sequence[str], device: str = 'cpu',
                      input_names=None,
                      output_names: Optional[Sequence[str]] = None,
                      deploy_cfg: Any = None, **kwargs) -> OpenVINOWrapper:
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
        """``<work_dir>/<onnx name>.xml`` + ``.bin`` per ONNX file (a static
        config's input ``[1, 3, H, W]``)."""
        from mmdeploy.utils import (get_calib_filename, get_input_shape,
                                    get_ir_config, is_dynamic_shape)
        quantization = deploy_cfg['backend_config'].get('quantization')
        ov = import_openvino(int8=bool(quantization))
        wh = None if is_dynamic_shape(deploy_cfg) else \
            get_input_shape(deploy_cfg)
        name = (get_ir_config(deploy_cfg).get('input_names') or ['input'])[0]
        files = []
        for onnx_file in ir_files:
            model = ov.convert_model(onnx_file, input={
                name: [1, 3, wh[1], wh[0]]} if wh else None)
            if quantization:  # as deploy_precision, run_deploy
                calib = get_calib_filename(deploy_cfg)
                model = quantize_ir(model, calib and osp.join(
                    work_dir, calib), wh and wh[::-1], quantization)
            files.append(osp.join(work_dir, Path(onnx_file).stem + '.xml'))
            ov.save_model(model, files[-1], compress_to_fp16=False)
        return files


def register() -> bool:
    """:class:`OpenVINOManager` as mmdeploy's where its own cannot run."""
    return register_own_backend('openvino', OpenVINOManager,
                                mmdeploy_openvino_unusable())
