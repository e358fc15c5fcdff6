# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Deployment with mmdeploy 1.3.1, as an mmdeploy plugin that only adds.

Not imported by :mod:`rgpnet_mmseg` (mmdeploy is heavy); mmdeploy imports
it when a deploy config names it in ``codebase_config.module``. Importing
it applies :mod:`rgpnet_mmseg.compat.mmdeploy` (torch >= 2.9 fixes of
mmdeploy's rewriter machinery), registers our ``torch.onnx.export``
rewriter (:mod:`.exporter`) and our backend model ``mmseg_end2end``
(:mod:`.segmentor`), and replaces an mmdeploy backend manager only where
mmdeploy's own cannot run with the installed library (:mod:`.backends`).
"""
from rgpnet_mmseg.compat import mmdeploy as _compat_mmdeploy
from .backends import openvino as _openvino
from .backends import tensorrt as _tensorrt
from .checks import OUTPUT_STRIDE, DeployConfigError, check_deploy_config
from .exporter import (ExporterError, choose_exporter, export_onnx,
                       register_rewriters)
from .segmentor import MODEL_TYPE, MMSegEnd2EndModel, use_mmseg_labels

_compat_mmdeploy.apply()
register_rewriters()
_tensorrt.register()
_openvino.register()

__all__ = [
    'MODEL_TYPE', 'OUTPUT_STRIDE', 'DeployConfigError', 'ExporterError',
    'MMSegEnd2EndModel', 'check_deploy_config', 'choose_exporter',
    'export_onnx', 'use_mmseg_labels'
]
