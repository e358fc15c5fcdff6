# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Segment images with a PyTorch checkpoint (mmseg's API) or a model
deployed by ``tools/deploy.py`` (mmdeploy's task processor). Example::

    seg = build_segmenter('configs/rgpnet_r18_demo.py', 'iter_400.pth')
    labels = seg('image.png')                      # H x W class ids
    seg = build_segmenter('work_dirs/deploy_ort')  # end2end.onnx inside"""
import copy
import os.path as osp
from typing import Any, List, Optional, Sequence, Union

import numpy as np
import torch

from rgpnet_mmseg.utils.run_config import decode_head_cfg

from .media import read_image
from .visualize import make_palette

BACKENDS = ('pytorch', 'onnxruntime', 'tensorrt', 'openvino')
BACKEND_BY_EXTENSION = {'.pth': 'pytorch', '.pt': 'pytorch',
                        '.onnx': 'onnxruntime', '.engine': 'tensorrt',
                        '.trt': 'tensorrt', '.plan': 'tensorrt',
                        '.xml': 'openvino'}
#: Per deployed backend: (model file kind, the file tools/deploy.py writes)
MODEL_FILES = {'onnxruntime': ('ONNX model', 'end2end.onnx'),
               'tensorrt': ('TensorRT engine', 'end2end.engine'),
               'openvino': ('OpenVINO IR', 'end2end.xml')}
#: The ``backend_config`` key of a backend's intra-op threads.
THREADS_KEY = {'onnxruntime': 'intra_op_num_threads',
               'openvino': 'inference_num_threads'}
CONFIG_EXTENSIONS = ('.py', '.json', '.yaml', '.yml')


class InferenceError(RuntimeError):
    """The model, checkpoint or backend cannot be set up (message: what is
    missing, where)."""


class InputShapeError(ValueError):
    """An image outside a TensorRT engine's shape profile (one line)."""


def load_config(config) -> Any:
    """An mmengine ``Config`` from a file (or a ``Config``), with its
    ``custom_imports`` imported (``rgpnet_mmseg`` registers RGPHead)."""
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings
    if not isinstance(config, Config):
        if not osp.isfile(config):
            raise InferenceError(f'Config file not found: {config}')
        config = Config.fromfile(config)
    if config.get('custom_imports', None):
        import_modules_from_strings(**config['custom_imports'])
    return config


def dataset_meta(cfg, meta: Optional[dict] = None) -> tuple:
    """``(classes, palette)``, a colour per class: from ``meta`` (a
    checkpoint's), else the data set the config tests on (its ``metainfo``
    over its class's ``METAINFO``), else numbered classes; colours missing
    are drawn by :func:`make_palette`."""
    import mmseg.datasets  # noqa: F401  (registers mmseg's data sets)
    from mmseg.registry import DATASETS
    meta = meta or {}
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        if meta.get('classes'):
            break
        dataset = (cfg.get(key, None) or {}).get('dataset', None)
        while dataset and 'dataset' in dataset:  # e.g. RepeatDataset
            dataset = dataset['dataset']
        kind = (dataset or {}).get('type')
        if isinstance(kind, str) and (cls := DATASETS.get(kind)) is not None:
            meta = cls._load_metainfo(dataset.get('metainfo', None))
    num_classes = decode_head_cfg(cfg).get('num_classes', 0)
    classes = list(meta.get('classes', None) or map(str, range(num_classes)))
    return classes, make_palette(max(num_classes, len(classes)),
                                 meta.get('palette', None)).tolist()


class Segmenter:
    """Image(s) in, :class:`mmseg.structures.SegDataSample` out
    (:meth:`predict`), or one image in and its ``H x W`` labels out
    (``__call__``). Subclasses set :attr:`backend`, :attr:`classes`,
    :attr:`palette` and implement :meth:`predict`."""
    backend = ''
    classes: List[str] = []
    palette: List[List[int]] = []  # (R, G, B) per class

    def predict(self, images: Sequence[np.ndarray]) -> list:
        """Segment BGR ``uint8`` images (as OpenCV reads them) of one size
        into SegDataSamples, ``pred_sem_seg`` at each image's size."""
        raise NotImplementedError

    def __call__(self, image: Union[str, np.ndarray]) -> np.ndarray:
        """The ``H x W`` int64 class ids of one image (BGR array or path)."""
        if isinstance(image, str):
            image = read_image(image)
        labels = self.predict([image])[0].pred_sem_seg.data[0]
        return np.asarray(labels.cpu().numpy(), dtype=np.int64)  # no copy


class PytorchSegmenter(Segmenter):
    """A ``config`` (str | Config) and ``checkpoint`` (None: random
    weights) on ``device``, built by :func:`mmseg.apis.init_model` and run
    by :func:`mmseg.apis.inference_model`."""
    backend = 'pytorch'

    def __init__(self, config, checkpoint: Optional[str] = None,
                 device: str = 'cpu'):
        from mmseg.apis import init_model

        from rgpnet_mmseg.utils.checkpoint import check_checkpoint_fits
        cfg = load_config(config)
        if checkpoint is not None and not osp.isfile(checkpoint):
            raise InferenceError(f'Checkpoint file not found: {checkpoint}')
        if checkpoint is not None:  # one line for a bad or misfit file
            check_checkpoint_fits(cfg, checkpoint)
        self.model = init_model(cfg, checkpoint, device=device)
        self.classes, self.palette = dataset_meta(
            self.model.cfg, getattr(self.model, 'dataset_meta', None))

    def predict(self, images: Sequence[np.ndarray]) -> list:
        from mmseg.apis import inference_model
        return inference_model(self.model, list(images))


class DeployedSegmenter(Segmenter):
    """A model deployed by mmdeploy, run by its task processor and our
    backend model (:class:`rgpnet_mmseg.deploy.MMSegEnd2EndModel`).

    Args:
        model_cfg (Config): The model config.
        deploy_cfg (Config): The deploy config the model was built with.
        model_file (str): ``end2end.onnx``, ``end2end.engine``, ...
        device (str): ``'cpu'`` or ``'cuda[:N]'``.
        num_threads (int, optional): Backend threads (:data:`THREADS_KEY`).

    A TensorRT engine's ``input_range`` bounds :meth:`predict`'s batches
    and image sizes (else :class:`InputShapeError`)."""

    def __init__(self, model_cfg, deploy_cfg, model_file: str,
                 device: str = 'cpu', num_threads: Optional[int] = None):
        deploy_cfg = copy.deepcopy(deploy_cfg)
        self.backend = deploy_cfg.backend_config.type
        if num_threads and self.backend in THREADS_KEY:
            deploy_cfg.backend_config[THREADS_KEY[self.backend]] = num_threads
        try:
            from mmdeploy.apis.utils import build_task_processor
            from mmdeploy.codebase.mmseg.deploy.segmentation import \
                process_model_config
            from mmdeploy.utils import get_input_shape
            from mmengine.dataset import Compose

            from rgpnet_mmseg.deploy.segmentor import (check_model_io,
                                                       use_mmseg_labels)
        except ImportError as e:
            raise InferenceError(
                f'the {self.backend} backend needs mmdeploy and the backend '
                f'runtime: pip install "rgpnet-mmseg[deploy]" ({e})') from e
        use_mmseg_labels(deploy_cfg, model_cfg)
        self.task = build_task_processor(model_cfg, deploy_cfg, device)
        try:  # the backend's own error, in one line naming the file
            self.model = self.task.build_backend_model(
                [model_file], self.task.update_data_preprocessor)
            check_model_io(self.model.wrapper, deploy_cfg,
                           decode_head_cfg(model_cfg).get('num_classes', 0),
                           model_file)
        except Exception as e:  # noqa: BLE001 - e.g. ORT's InvalidProtobuf
            detail = ' '.join(str(e).split())
            raise InferenceError(
                f'the {self.backend} backend cannot run {model_file}: '
                f'{type(e).__name__}: {detail}') from e
        self.input_shape = get_input_shape(deploy_cfg)
        self.input_range = getattr(self.model, 'input_range', None)
        self._pipeline = Compose(process_model_config(  # for BGR arrays
            model_cfg, [np.empty(0)], self.input_shape).test_pipeline)
        self.classes, self.palette = dataset_meta(model_cfg)

    def predict(self, images: Sequence[np.ndarray]) -> list:
        step = self.input_range[1][0] if self.input_range else len(images)
        return [s for i in range(0, len(images), max(step, 1))
                for s in self._predict(images[i:i + step])]

    def _predict(self, images: Sequence[np.ndarray]) -> list:
        """One batch as mmdeploy's ``create_input`` and ``test_step`` (the
        test pipeline of ``process_model_config`` built once)."""
        from rgpnet_mmseg.deploy.backends.tensorrt import \
            ShapeOutsideProfileError
        data = [self._pipeline(dict(img=img)) for img in images]
        try:
            with torch.no_grad():
                return self.model.test_step(dict(
                    inputs=[d['inputs'] for d in data],
                    data_samples=[d['data_samples'] for d in data]))
        except ShapeOutsideProfileError as e:
            raise InputShapeError(
                f'{e} (NxCxHxW after the test pipeline; build the engine '
                'with a profile that holds it)') from None


def deployed_configs(folder: str, model_cfg=None) -> tuple:
    """``(model_cfg, deploy_cfg)`` of a dir written by ``tools/deploy.py``:
    its ``model_cfg.py`` (unless given) and ``deploy_cfg.py``.

    Raises:
        InferenceError: naming what is missing.
    """
    from mmengine.config import Config
    for name in ['deploy_cfg.py'] + ['model_cfg.py'] * (model_cfg is None):
        if not osp.isfile(osp.join(folder, name)):
            raise InferenceError(f'{folder} has no {name}: not a dir '
                                 f'written by tools/deploy.py')
    return (model_cfg or load_config(osp.join(folder, 'model_cfg.py')),
            Config.fromfile(osp.join(folder, 'deploy_cfg.py')))


def build_segmenter(model: str, checkpoint: Optional[str] = None,
                    backend: Optional[str] = None,
                    device: Optional[str] = None,
                    num_threads: Optional[int] = None) -> Segmenter:
    """A segmenter for a config + checkpoint or a deployed dir.

    Args:
        model (str): Model config, or a dir written by ``tools/deploy.py``.
        checkpoint (str, optional): The model file: ``.pth`` (with a
            config, None = random weights), ``.onnx`` or ``.engine``, a path
            or a name inside the dir; for a dir, None = the model of the
            backend its deploy config names; with a config and a deployed
            file, the deploy config comes from the file's dir.
        backend (str, optional): One of :data:`BACKENDS`, told by the
            file's ending, needed where that is ambiguous (the ONNX file of
            a TensorRT dir); when given it must fit the file.
        device (str, optional): Default ``cuda:0`` for tensorrt, else cpu.
        num_threads (int, optional): ``torch.set_num_threads`` (for the
            process) and the backend's threads (default: all).

    Raises:
        InferenceError: with a message naming what is missing.
    """
    if backend is not None and backend not in BACKENDS:
        raise InferenceError(
            f'unknown backend {backend!r}; one of {", ".join(BACKENDS)}')
    file_backend = BACKEND_BY_EXTENSION.get(
        osp.splitext(checkpoint or '')[1].lower())
    if checkpoint is not None and file_backend is None and backend is None:
        raise InferenceError(
            f'cannot tell the backend of {checkpoint} by its ending '
            f'({", ".join(BACKEND_BY_EXTENSION)}); pass --backend')
    if backend and file_backend and backend != file_backend:
        raise InferenceError(
            f'{checkpoint} is a {file_backend} model, not {backend}')
    backend = backend or file_backend
    if num_threads is not None and num_threads < 1:
        raise InferenceError(f'num_threads must be >= 1, not {num_threads}')
    if num_threads:
        torch.set_num_threads(num_threads)

    folder, model_cfg = model, None
    if osp.isdir(model):
        if checkpoint and not osp.isfile(checkpoint) and \
                osp.isfile(osp.join(model, checkpoint)):
            checkpoint = osp.join(model, checkpoint)  # named inside the dir
        if backend == 'pytorch':
            return PytorchSegmenter(deployed_configs(model)[0], checkpoint,
                                    device or 'cpu')
    elif not osp.isfile(model):
        raise InferenceError(
            f'neither a config file nor a deployed model dir: {model}')
    elif not model.lower().endswith(CONFIG_EXTENSIONS):
        raise InferenceError(
            f'{model} is not a config ({", ".join(CONFIG_EXTENSIONS)}) or a '
            f'deployed model dir')
    elif backend in (None, 'pytorch'):
        return PytorchSegmenter(model, checkpoint, device or 'cpu')
    elif checkpoint is None:
        raise InferenceError(f'the {backend} backend needs a model file')
    else:
        folder = osp.dirname(osp.abspath(checkpoint))
        model_cfg = load_config(model)

    if checkpoint is not None and not osp.isfile(checkpoint):
        raise InferenceError(f'{MODEL_FILES[backend][0]} file not found: '
                             f'{checkpoint}')
    model_cfg, deploy_cfg = deployed_configs(folder, model_cfg)
    backend = backend or deploy_cfg.backend_config.type
    if backend not in MODEL_FILES:
        raise InferenceError(
            f'unknown backend {backend!r} in the deploy config of {folder}')
    if backend != deploy_cfg.backend_config.type:  # e.g. a TRT dir's ONNX
        deploy_cfg.backend_config = dict(type=backend)
    default = MODEL_FILES[backend][1]
    checkpoint = checkpoint or osp.join(folder, default)
    if not osp.isfile(checkpoint):
        raise InferenceError(
            f'no {backend} model in {folder} (looked for {default}); name the '
            f'model file as the second argument')
    device = device or ('cuda:0' if backend == 'tensorrt' else 'cpu')
    if backend == 'tensorrt' and not device.startswith('cuda'):
        raise InferenceError(f'the tensorrt backend runs on a CUDA device, '
                             f'not {device!r}; pass --device cuda:0')
    return DeployedSegmenter(model_cfg, deploy_cfg, checkpoint, device,
                             num_threads)
