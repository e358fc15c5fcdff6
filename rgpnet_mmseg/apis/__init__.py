# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Inference: segmenters on mmseg's API (PyTorch) and mmdeploy's task
processor, overlays, and the runner behind ``tools/infer.py`` (mmseg's own
API works with RGPNet unchanged)."""
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
                        put_text, save_image, save_labels)

__all__ = [
    'BACKENDS', 'DeployedSegmenter', 'InferenceError', 'InputShapeError',
    'PytorchSegmenter', 'Segmenter', 'build_segmenter', 'dataset_meta',
    'deployed_configs', 'load_config', 'IMAGE_EXTENSIONS', 'VIDEO_EXTENSIONS',
    'MediaReadError', 'VideoWriter', 'list_images', 'open_video',
    'read_frames', 'read_image', 'InferenceRunner', 'colorize',
    'comparison_figure', 'make_palette', 'overlay', 'put_text', 'save_image',
    'save_labels']
