# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""mmdeploy 1.3.1 plugin (``codebase_config.module``; not imported by
:mod:`rgpnet_mmseg`): applies :mod:`rgpnet_mmseg.compat.mmdeploy`, registers
the export rewriter (:mod:`.exporter`), the backend model ``mmseg_end2end``
(:mod:`.segmentor`) and our backend managers where mmdeploy's cannot run."""
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

__all__ = ['MODEL_TYPE', 'OUTPUT_STRIDE', 'DeployConfigError', 'ExporterError',
           'MMSegEnd2EndModel', 'check_deploy_config', 'choose_exporter',
           'export_onnx', 'use_mmseg_labels']
