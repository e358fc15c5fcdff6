# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
""":func:`run_deploy` (``tools/deploy.py``): mmdeploy's conversion in one
process, then the checks of :mod:`.verify`."""
import copy
import os
import os.path as osp
from typing import Any, Dict, Optional

import onnx
from mmdeploy.apis import torch2onnx
from mmdeploy.backend.base import get_backend_manager
from mmdeploy.utils import (get_backend, get_calib_filename, get_ir_config,
                            load_config)

from rgpnet_mmseg.compat.mmdeploy import export_sdk_info, tensorrt_task_on_cpu
from .backends.tensorrt import builder_precision, tensorrt_unavailable_reason
from .checks import check_deploy_config, deploy_precision
from .exporter import choose_exporter
from .quantize import (calibration_config, quantize_onnx,
                       write_calibration_data)
from .segmentor import use_mmseg_labels
from .verify import check_parity, evaluate_backend_miou, miou_ok

BACKENDS = ('onnxruntime', 'tensorrt', 'openvino')  # run_deploy's targets


class DeployError(RuntimeError):
    """The conversion cannot run here (e.g. no TensorRT)."""


def load_configs(deploy_cfg: Any, model_cfg: Any,
                 with_argmax: Optional[bool] = None,
                 cfg_options: Optional[Dict] = None,
                 exporter: Optional[str] = None):
    """The deploy (a copy) and model configs as mmdeploy loads them, with
    this plugin, :func:`.segmentor.use_mmseg_labels`, ``with_argmax``,
    ``exporter`` and ``cfg_options`` where given."""
    deploy_cfg, model_cfg = load_config(deploy_cfg, model_cfg)
    deploy_cfg = copy.deepcopy(deploy_cfg)
    model_cfg.merge_from_dict(cfg_options or {})
    codebase = use_mmseg_labels(deploy_cfg, model_cfg).codebase_config
    modules = list(codebase.get('module') or [])
    codebase['module'] = list(dict.fromkeys(modules + ['rgpnet_mmseg.deploy']))
    if with_argmax is not None:
        codebase['with_argmax'] = bool(with_argmax)
    if exporter is not None:
        deploy_cfg.setdefault('onnx_config', {})['exporter'] = exporter
    return deploy_cfg, model_cfg


def _check_backend(deploy_cfg: Any, name: str) -> str:
    """The backend of a deploy config, checked before any work."""
    backend = get_backend(deploy_cfg).value
    if backend not in BACKENDS:
        raise DeployError(f'{name}: backend {backend!r} is not supported by '
                          f'rgpnet-mmseg ({", ".join(BACKENDS)})')
    if deploy_precision(deploy_cfg) == 'int8' and not get_calib_filename(
            deploy_cfg):
        raise DeployError(f'{name}: INT8 needs calibration data: add '
                          "calib_config=dict(create_calib=True, calib_file="
                          "'calib_data.h5')")
    if backend == 'tensorrt':
        builder_precision(deploy_cfg.backend_config.get('common_config', {}),
                          True)
    return backend


def run_deploy(deploy_cfg: Any, model_cfg: Any, checkpoint: Optional[str],
               img: Any, work_dir: str, *, device: str = 'cpu',
               exporter: Optional[str] = None,
               with_argmax: Optional[bool] = None, test_img: Any = None,
               parity: bool = True, miou: Optional[bool] = None,
               miou_split: str = 'val', miou_max_images: Optional[int] = None,
               data_root: Optional[str] = None,
               cfg_options: Optional[Dict] = None, dump_info: bool = True,
               calib: Optional[Dict] = None) -> Dict[str, Any]:
    """Convert as mmdeploy's ``tools/deploy.py`` into ``work_dir`` (``calib``:
    :func:`.quantize.write_calibration_data`'s keywords), then
    :func:`.verify.check_parity` on ``test_img`` (default ``img``) and
    :func:`.verify.evaluate_backend_miou` (``miou``; default: reduced
    precision). Returns ``onnx_file``, ``exporter``, ``opset``, ``ops``,
    ``backend``, ``backend_files``, ``calib_file``, ``parity``, ``miou``."""
    for path, what in ((deploy_cfg, 'Deploy config'),
                       (model_cfg, 'Model config'), (checkpoint, 'Checkpoint'),
                       (img, 'Image')):
        if isinstance(path, str) and not osp.isfile(path):
            raise FileNotFoundError(f'{what} file not found: {path}')
    name = deploy_cfg if isinstance(deploy_cfg, str) else 'deploy config'
    deploy_cfg, model_cfg = load_configs(deploy_cfg, model_cfg, with_argmax,
                                         cfg_options, exporter)
    check_deploy_config(deploy_cfg, name)
    backend = _check_backend(deploy_cfg, name)
    mode = choose_exporter(deploy_cfg.onnx_config.get('exporter'))  # early
    os.makedirs(work_dir, exist_ok=True)
    deploy_cfg.dump(osp.join(work_dir, 'deploy_cfg.py'))
    model_cfg.dump(osp.join(work_dir, 'model_cfg.py'))
    no_trt = backend == 'tensorrt' and (tensorrt_unavailable_reason() or (
        None if str(device).startswith('cuda') else
        f'it needs --device cuda, got {device}'))
    onnx_file = osp.join(work_dir, get_ir_config(deploy_cfg)['save_file'])
    calib_file = get_calib_filename(deploy_cfg)
    if calib_file:  # images checked before any work
        calib = dict(dataset_cfg=calibration_config(
            deploy_cfg, model_cfg, **(calib or {})))
    # no TensorRT: export and calibrate on the CPU; OpenVINO: CPU only
    device = 'cpu' if no_trt or backend == 'openvino' else device
    with tensorrt_task_on_cpu(bool(no_trt)):
        if dump_info:
            export_sdk_info(deploy_cfg, model_cfg, work_dir, pth=checkpoint,
                            device=device)
        torch2onnx(img, work_dir, osp.basename(onnx_file), deploy_cfg,
                   model_cfg, checkpoint, device)
        if calib_file:  # read by the TensorRT manager too, from work_dir
            calib_file = write_calibration_data(
                osp.join(work_dir, calib_file), deploy_cfg, model_cfg,
                checkpoint, device=device, **calib)
    if no_trt:
        calib_note = f' and {osp.basename(calib_file)}' * bool(calib_file)
        raise DeployError(f'{name} asks for TensorRT: {no_trt}; the ONNX '
                          f'model{calib_note} are in {work_dir}')
    graph = onnx.load(onnx_file, load_external_data=False)
    files = [onnx_file]
    quantization = deploy_cfg.backend_config.get('quantization')
    if backend == 'onnxruntime' and quantization:  # INT8; FP32 kept
        fp32 = osp.splitext(onnx_file)[0] + '-fp32.onnx'
        os.replace(onnx_file, fp32)
        quantize_onnx(fp32, onnx_file, calib_file, **quantization)
        onnx_file = fp32  # the exported graph, reported below
    if backend != 'onnxruntime':  # the manager's build: engine, IR
        files = list(get_backend_manager(backend).to_backend(
            files, work_dir, deploy_cfg, device=device))
    precision = deploy_precision(deploy_cfg)
    reduced = precision != 'fp32'  # TensorRT TF32, FP16; BF16; INT8
    result = dict(
        onnx_file=onnx_file, exporter=mode, backend=backend,
        calib_file=calib_file,
        ops=sorted({node.op_type for node in graph.graph.node}),
        opset=next(o.version for o in graph.opset_import
                   if o.domain in ('', 'ai.onnx')),
        backend_files=files, parity=None, miou=None)
    if parity:
        result['parity'] = check_parity(model_cfg, deploy_cfg, checkpoint,
                                        files, test_img or img, device)
    if miou or (miou is None and reduced):
        try:
            result['miou'] = evaluate_backend_miou(
                model_cfg, deploy_cfg, checkpoint, files, device, miou_split,
                miou_max_images, data_root)
        except (FileNotFoundError, KeyError) as err:
            raise DeployError(
                f'converted into {work_dir}, but the mIoU comparison needs '
                f'the {miou_split} split of the model config ({err}); point '
                '--data-root at it, or skip it with --no-miou') from err
        result['miou'].update(
            split=miou_split, ok=miou_ok(backend, precision,
                                         result['miou']['miou_diff']),
            backend=backend + f' {precision.upper()}' * reduced)
    return result
