# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Inference for users: segmenters on mmseg's API (PyTorch) and on
mmdeploy's task processor (ONNX Runtime, TensorRT), overlays, and the
runner behind ``tools/infer.py``.

RGPNet also works with mmseg's own API unchanged
(``mmseg.apis.init_model`` / ``inference_model`` / ``MMSegInferencer``).
Importing this package imports :mod:`rgpnet_mmseg` (registers RGPHead).
"""
import rgpnet_mmseg  # noqa: F401  (registers the model)

from .inference import (BACKENDS, DeployedSegmenter, InferenceError,
                        InputShapeError, PytorchSegmenter, Segmenter,
                        build_segmenter, dataset_meta, deployed_configs,
                        load_config)
from .media import (IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, MediaReadError,
                    VideoWriter, list_images, open_video, read_frames,
                    read_image)
from .runner import InferenceRunner
from .visualize import (colorize, comparison_figure, make_palette, overlay,
                        put_text, save_labels)

__all__ = [
    'BACKENDS', 'DeployedSegmenter', 'InferenceError', 'InputShapeError',
    'PytorchSegmenter',
    'Segmenter', 'build_segmenter', 'dataset_meta', 'deployed_configs',
    'load_config', 'IMAGE_EXTENSIONS', 'VIDEO_EXTENSIONS',
    'MediaReadError', 'VideoWriter', 'list_images', 'open_video',
    'read_frames', 'read_image', 'InferenceRunner', 'colorize',
    'comparison_figure', 'make_palette', 'overlay', 'put_text', 'save_labels'
]
