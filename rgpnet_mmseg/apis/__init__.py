# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Inference for users: PyTorch, ONNX Runtime and TensorRT segmenters that
share mmseg's preprocessing and postprocessing, overlays, and the runner
behind ``tools/infer.py``.

RGPNet also works with mmseg's own API unchanged
(``mmseg.apis.init_model`` / ``inference_model`` / ``MMSegInferencer``);
this package adds the deployed backends and the file/folder/video tool.
Importing it imports :mod:`rgpnet_mmseg` (which registers RGPHead).
"""
import rgpnet_mmseg  # noqa: F401  (registers the model)

from .inference import (BACKENDS, BaseSegmenter, DeployedModel,
                        InferenceError, OnnxRuntimeSegmenter, Preprocessor,
                        PytorchSegmenter, TensorRTSegmenter, backend_of,
                        build_segmenter, dataset_meta_from_config)
from .media import (IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, FrameReader,
                    FrameWriter, MediaReadError, list_images, open_video,
                    open_video_writer, read_image)
from .processing import InferenceSummary, MediaSegmenter
from .visualize import (colorize, comparison_figure, make_palette, overlay,
                        put_text, save_labels)

__all__ = [
    'BACKENDS', 'BaseSegmenter', 'DeployedModel', 'InferenceError',
    'OnnxRuntimeSegmenter', 'Preprocessor', 'PytorchSegmenter',
    'TensorRTSegmenter', 'backend_of', 'build_segmenter',
    'dataset_meta_from_config', 'IMAGE_EXTENSIONS', 'VIDEO_EXTENSIONS',
    'FrameReader', 'FrameWriter', 'MediaReadError', 'list_images',
    'open_video', 'open_video_writer', 'read_image', 'InferenceSummary',
    'MediaSegmenter', 'colorize', 'comparison_figure', 'make_palette',
    'overlay', 'put_text', 'save_labels'
]
