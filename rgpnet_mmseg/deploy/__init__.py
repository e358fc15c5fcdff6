# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Deployment of RGPNet with mmdeploy 1.3.1 (ONNX Runtime, TensorRT).

Not imported by :mod:`rgpnet_mmseg` (mmdeploy is heavy); mmdeploy imports
it when a deploy config names it in ``codebase_config.module``. It applies
:mod:`rgpnet_mmseg.compat.mmdeploy` and registers mmdeploy's
``onnxruntime`` (:mod:`.backends`) and ``tensorrt``
(:mod:`rgpnet_mmseg.compat.tensorrt`) backend managers.
"""
from rgpnet_mmseg.compat import mmdeploy as _compat_mmdeploy
from rgpnet_mmseg.compat import tensorrt as _compat_tensorrt
from .backends import onnxruntime_session, register_onnxruntime
from .checks import OUTPUT_STRIDE, DeployConfigError, check_deploy_config
from .exporter import (EXPORTER_ENV, ExporterError, SegmentorForExport,
                       choose_exporter, export_onnx, export_segmentor)

_compat_mmdeploy.apply()
_compat_tensorrt.apply()
register_onnxruntime()

__all__ = [
    'EXPORTER_ENV', 'OUTPUT_STRIDE', 'DeployConfigError', 'ExporterError',
    'SegmentorForExport', 'check_deploy_config', 'choose_exporter',
    'export_onnx', 'export_segmentor', 'onnxruntime_session']
