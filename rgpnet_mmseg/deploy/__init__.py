# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Deployment of RGPNet with mmdeploy 1.3.1 (ONNX Runtime, TensorRT).

Not imported by :mod:`rgpnet_mmseg` (mmdeploy is heavy): import it
explicitly, or name it in a deploy config, where mmdeploy imports it
before it builds anything::

    codebase_config = dict(type='mmseg', task='Segmentation',
                           with_argmax=True, module=['rgpnet_mmseg.deploy'])

Importing it

* applies :mod:`.compat` (mmdeploy on torch 2.13),
* registers a rewriter of ``torch.onnx.export`` with mmdeploy, so that
  its export uses :func:`.exporter.export_onnx` (exporter chosen by
  :func:`.exporter.choose_exporter`, BN folded, shapes checked),
* replaces mmdeploy's TensorRT backend manager with
  :mod:`.tensorrt` (TensorRT 8.6 to 11).
"""
from . import compat

compat.apply()

from . import exporter, tensorrt  # noqa: E402
from .backends import onnxruntime_session, register_onnxruntime  # noqa: E402
from .checks import (OUTPUT_STRIDE, DeployConfigError,  # noqa: E402
                     check_deploy_config)
from .exporter import (EXPORTER_ENV, ExporterError,  # noqa: E402
                       SegmentorForExport, choose_exporter, export_onnx,
                       export_segmentor)
from .onnx_graph import (FORBIDDEN_OPS, TENSORRT_OPS,  # noqa: E402
                         convert_to_fp16, fold_batchnorm, op_types)

exporter._register_mmdeploy_rewriter()
tensorrt.register_backend_manager()
register_onnxruntime()

__all__ = [
    'EXPORTER_ENV', 'FORBIDDEN_OPS', 'OUTPUT_STRIDE', 'TENSORRT_OPS',
    'DeployConfigError', 'ExporterError', 'SegmentorForExport',
    'check_deploy_config', 'choose_exporter', 'convert_to_fp16',
    'export_onnx', 'export_segmentor', 'fold_batchnorm', 'onnxruntime_session',
    'op_types'
]
