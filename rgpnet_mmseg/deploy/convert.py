# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
""":func:`run_deploy`, what ``tools/deploy.py`` runs: mmdeploy's conversion
(SDK files, ``torch2onnx``, the backend step) in one process, then the
checks of :mod:`.verify`."""
import copy
import os
import os.path as osp
from typing import Any, Dict, Optional
from unittest import mock

from .checks import check_deploy_config
from .exporter import EXPORTER_ENV, choose_exporter


class DeployError(RuntimeError):
    """The conversion cannot run here (e.g. no TensorRT)."""


def load_configs(deploy_cfg: Any, model_cfg: Any,
                 with_argmax: Optional[bool] = None,
                 cfg_options: Optional[Dict] = None):
    """Load the deploy and model configs (paths or Configs) as mmdeploy
    does; ``codebase_config.with_argmax`` overridden when given and
    ``rgpnet_mmseg.deploy`` added to the codebase's modules."""
    from mmdeploy.utils import load_config
    deploy_cfg, model_cfg = load_config(deploy_cfg, model_cfg)
    deploy_cfg = copy.deepcopy(deploy_cfg)
    codebase = deploy_cfg.setdefault('codebase_config', {})
    modules = list(codebase.get('module') or [])
    codebase['module'] = list(dict.fromkeys(modules + ['rgpnet_mmseg.deploy']))
    if with_argmax is not None:
        codebase['with_argmax'] = bool(with_argmax)
    model_cfg.merge_from_dict(cfg_options or {})
    return deploy_cfg, model_cfg


def _check_backend(deploy_cfg: Any, name: str, device: str) -> str:
    from mmdeploy.utils import get_backend, get_common_config

    from rgpnet_mmseg.compat.tensorrt import (builder_precision,
                                              tensorrt_unavailable_reason)
    backend = get_backend(deploy_cfg).value
    if backend == 'tensorrt':
        builder_precision(get_common_config(deploy_cfg), True)  # no INT8
        reason = tensorrt_unavailable_reason()
        if reason:
            raise DeployError(f'{name} asks for TensorRT: {reason}')
        if not str(device).startswith('cuda'):
            raise DeployError(f'TensorRT needs --device cuda, got {device}')
    elif backend != 'onnxruntime':
        raise DeployError(f'{name}: backend {backend!r} is not supported by '
                          'rgpnet-mmseg (onnxruntime, tensorrt)')
    return backend


def run_deploy(deploy_cfg: Any, model_cfg: Any, checkpoint: Optional[str],
               img: Any, work_dir: str, *, device: str = 'cpu',
               exporter: Optional[str] = None,
               with_argmax: Optional[bool] = None, test_img: Any = None,
               parity: bool = True, miou: Optional[bool] = None,
               miou_split: str = 'val', miou_max_images: Optional[int] = None,
               data_root: Optional[str] = None,
               cfg_options: Optional[Dict] = None,
               dump_info: bool = True) -> Dict[str, Any]:
    """Convert a model as mmdeploy's ``tools/deploy.py`` does, then check it:
    configs checked (else :class:`DeployConfigError`, :class:`DeployError`,
    :class:`ExporterError`) and written to ``work_dir`` with the SDK files;
    ``torch2onnx`` (:func:`.exporter.export_onnx`), ``to_backend``
    (TensorRT), :func:`.verify.check_parity` on ``test_img`` (default
    ``img``), :func:`.verify.evaluate_backend_miou` if ``miou`` (default:
    TensorRT TF32, FP16). Returns ``onnx_file``, ``exporter``, ``opset``,
    ``ops``, ``backend``, ``backend_files``, ``parity``, ``miou``."""
    import onnx
    from mmdeploy.apis import torch2onnx
    from mmdeploy.backend.base import get_backend_manager
    from mmdeploy.utils import get_common_config, get_ir_config

    from rgpnet_mmseg.compat.mmdeploy import export_sdk_info
    from rgpnet_mmseg.compat.tensorrt import precision_mode
    from .verify import check_parity, evaluate_backend_miou
    for path, what in ((deploy_cfg, 'Deploy config'),
                       (model_cfg, 'Model config'), (checkpoint, 'Checkpoint'),
                       (img, 'Image')):
        if isinstance(path, str) and not osp.isfile(path):
            raise FileNotFoundError(f'{what} file not found: {path}')
    name = deploy_cfg if isinstance(deploy_cfg, str) else 'deploy config'
    deploy_cfg, model_cfg = load_configs(deploy_cfg, model_cfg, with_argmax,
                                         cfg_options)
    check_deploy_config(deploy_cfg, name)
    backend = _check_backend(deploy_cfg, name, device)
    mode = choose_exporter(exporter)  # fails on a bad name before any work
    os.makedirs(work_dir, exist_ok=True)
    deploy_cfg.dump(osp.join(work_dir, 'deploy_cfg.py'))
    model_cfg.dump(osp.join(work_dir, 'model_cfg.py'))
    if dump_info:
        export_sdk_info(
            deploy_cfg, model_cfg, work_dir, pth=checkpoint, device=device)
    onnx_file = osp.join(work_dir, get_ir_config(deploy_cfg)['save_file'])
    # the torch.onnx.export rewriter reads the exporter from the environment
    with mock.patch.dict(os.environ, {EXPORTER_ENV: mode}):
        torch2onnx(img, work_dir, osp.basename(onnx_file), deploy_cfg,
                   model_cfg, checkpoint, device)
    graph = onnx.load(onnx_file, load_external_data=False)
    files = [onnx_file]
    if backend == 'tensorrt':
        files = list(get_backend_manager(backend).to_backend(
            files, work_dir, deploy_cfg, device=device))
    precision = precision_mode(get_common_config(deploy_cfg))
    reduced = backend == 'tensorrt' and precision != 'fp32'  # TF32, FP16
    result = dict(
        onnx_file=onnx_file, exporter=mode, backend=backend,
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
        result['miou'].update(split=miou_split,
                              backend=backend + f' {precision.upper()}' *
                              reduced)
    return result
