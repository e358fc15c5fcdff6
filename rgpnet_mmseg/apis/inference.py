# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Segment images with RGPNet (or any mmseg ``EncoderDecoder``) on PyTorch,
ONNX Runtime or TensorRT, through one preprocessing and postprocessing path.

The preprocessing is mmseg's test-time path, read from the model config
(``test_pipeline`` + ``model.data_preprocessor``) or, for a model deployed
with mmdeploy, from the deployed dir's ``pipeline.json``: resize as mmcv's
``Resize`` (``mmcv.imrescale`` / ``mmcv.imresize``), BGR -> RGB, subtract
mean, divide by std, pad as ``data_preprocessor.test_cfg`` says. The
postprocessing crops the padding and brings the prediction back to the
image's size: logits are resized bilinearly (as mmseg's
``postprocess_result``) and then arg-maxed, label maps (mmdeploy's default
``with_argmax=True`` export) are resized nearest-neighbour.

With the PyTorch backend the labels equal those of
:func:`mmseg.apis.inference_model` for the same config and checkpoint.

Example::

    from rgpnet_mmseg.apis import build_segmenter
    seg = build_segmenter('configs/rgpnet_r18_demo.py', 'iter_400.pth')
    labels = seg('image.png')               # H x W class ids (int64)
    seg = build_segmenter('work_dirs/deploy_ort')  # end2end.onnx inside
"""
import glob
import json
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .media import read_image

ImageLike = Union[str, np.ndarray]

#: Checkpoint file endings and the backend that runs them.
BACKEND_BY_EXTENSION = {
    '.pth': 'pytorch',
    '.pt': 'pytorch',
    '.onnx': 'onnxruntime',
    '.engine': 'tensorrt',
    '.trt': 'tensorrt',
    '.plan': 'tensorrt',
}
BACKENDS = ('pytorch', 'onnxruntime', 'tensorrt')
#: The model file mmdeploy's tools/deploy.py writes, per backend.
DEPLOYED_MODEL_FILES = {
    'onnxruntime': ('end2end.onnx', ),
    'tensorrt': ('end2end.engine', ),
}
CONFIG_EXTENSIONS = ('.py', '.json', '.yaml', '.yml')


class InferenceError(RuntimeError):
    """The model, checkpoint or backend asked for cannot be set up; the
    message says what is missing and where it was looked for."""


# --------------------------------------------------------------------------
# preprocessing
# --------------------------------------------------------------------------
class Preprocessor:
    """mmseg's test-time preprocessing of one BGR image, in NumPy.

    Args:
        mean, std (sequence of float, optional): Per-channel normalisation
            (of the RGB channels when ``to_rgb``); None leaves values as is.
        to_rgb (bool): Swap BGR to RGB before normalising.
        scale (tuple[int, int], optional): ``(w, h)`` target of mmcv's
            ``Resize``; with ``keep_ratio`` the image is rescaled to fit.
        scale_factor (float, optional): Resize by a factor instead.
        keep_ratio (bool): As mmcv's ``Resize``.
        interpolation (str): mmcv interpolation name.
        pad_size (tuple[int, int], optional): ``(h, w)`` to pad to (right
            and bottom), as ``data_preprocessor.test_cfg.size``.
        size_divisor (int, optional): Pad to a multiple of it, as
            ``data_preprocessor.test_cfg.size_divisor``.
        pad_val (float): Value of the padded pixels (after normalising, as
            mmseg pads the normalised batch).
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 to_rgb: bool = False,
                 scale: Optional[Tuple[int, int]] = None,
                 scale_factor: Optional[float] = None,
                 keep_ratio: bool = True,
                 interpolation: str = 'bilinear',
                 pad_size: Optional[Tuple[int, int]] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: float = 0.0):
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.std = None if std is None else np.asarray(std, np.float32)
        self.to_rgb = bool(to_rgb)
        self.scale = tuple(scale) if scale is not None else None
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation
        self.pad_size = tuple(pad_size) if pad_size is not None else None
        self.size_divisor = size_divisor
        self.pad_val = pad_val

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'scale_factor={self.scale_factor}, '
                f'keep_ratio={self.keep_ratio}, to_rgb={self.to_rgb}, '
                f'mean={self.mean}, std={self.std}, pad_size={self.pad_size}, '
                f'size_divisor={self.size_divisor})')

    # -- constructors ------------------------------------------------------
    @classmethod
    def from_config(cls, cfg) -> 'Preprocessor':
        """From a model config: its test pipeline (``cfg.test_pipeline`` as
        :func:`mmseg.apis.inference_model` uses it, else
        ``cfg.test_dataloader.dataset.pipeline``) and
        ``cfg.model.data_preprocessor``.

        Raises:
            InferenceError: the test pipeline has a transform other than
                loading, ``Resize`` and packing.
        """
        pipeline = cfg.get('test_pipeline', None)
        if pipeline is None:
            try:
                pipeline = cfg.test_dataloader.dataset.pipeline
            except AttributeError:
                pipeline = []
        kwargs: Dict[str, Any] = {}
        for t in pipeline:
            kind = t['type'].split('.')[-1]
            if kind in ('LoadImageFromFile', 'LoadImageFromNDArray',
                        'LoadAnnotations', 'LoadDepthAnnotation',
                        'PackSegInputs'):
                continue
            if kind == 'Resize':
                if t.get('scale') is not None:
                    scale = t['scale']
                    kwargs['scale'] = (scale, scale) if isinstance(
                        scale, int) else tuple(scale)
                kwargs['scale_factor'] = t.get('scale_factor')
                kwargs['keep_ratio'] = t.get('keep_ratio', False)
                kwargs['interpolation'] = t.get('interpolation', 'bilinear')
                continue
            raise InferenceError(
                f'the test pipeline has a {t["type"]!r} transform, which '
                f'rgpnet_mmseg.apis does not implement (only loading, '
                f'Resize and PackSegInputs); use mmseg.apis.inference_model '
                f'or MMSegInferencer for this config')
        dp = cfg.model.get('data_preprocessor', None) or cfg.get(
            'data_preprocessor', None) or {}
        test_cfg = dp.get('test_cfg', None) or {}
        size = test_cfg.get('size', None)
        return cls(
            mean=dp.get('mean'),
            std=dp.get('std'),
            to_rgb=dp.get('bgr_to_rgb', False) or dp.get('rgb_to_bgr', False),
            pad_size=tuple(size) if size is not None else None,
            size_divisor=test_cfg.get('size_divisor', None),
            pad_val=dp.get('pad_val', 0),
            **kwargs)

    @classmethod
    def from_pipeline_json(cls, path: str) -> 'Preprocessor':
        """From the ``pipeline.json`` that mmdeploy writes next to a deployed
        model (its SDK preprocessing: ``Resize`` with ``size`` = mmcv's
        ``scale``, ``Normalize``)."""
        with open(path) as f:
            pipeline = json.load(f)
        transforms = None
        for task in pipeline['pipeline']['tasks']:
            if task.get('module') == 'Transform':
                transforms = task['transforms']
        if transforms is None:
            raise InferenceError(f'{path} has no Transform task')
        kwargs: Dict[str, Any] = {}
        for t in transforms:
            if t['type'] == 'Resize':
                size = t.get('size', t.get('scale'))
                if size is not None:
                    kwargs['scale'] = tuple(size)
                kwargs['keep_ratio'] = t.get('keep_ratio', False)
                kwargs['scale_factor'] = t.get('scale_factor')
                kwargs['interpolation'] = t.get('interpolation', 'bilinear')
            elif t['type'] == 'Normalize':
                kwargs.update(
                    mean=t['mean'], std=t['std'], to_rgb=t.get('to_rgb'))
            elif t['type'] == 'Pad':
                if t.get('size') is not None:
                    kwargs['pad_size'] = tuple(t['size'])
                kwargs['size_divisor'] = t.get('size_divisor')
        return cls(**kwargs)

    # -- the work ----------------------------------------------------------
    def resize(self, image: np.ndarray,
               input_size: Optional[Tuple[int, int]] = None) -> np.ndarray:
        """Resize as mmcv's ``Resize``; to exactly ``input_size`` = (h, w)
        (a static-shape model's input) when that differs from the result, as
        mmdeploy's static-shape pipeline does."""
        import mmcv
        scale = self.scale
        if scale is None and self.scale_factor is not None:
            # as mmcv's Resize: the scale is the image's size times the
            # factor (a number, or (w, h) factors)
            from mmcv.image.geometric import _scale_size
            h, w = image.shape[:2]
            scale = _scale_size((w, h), self.scale_factor)
        if scale is not None:
            if self.keep_ratio:
                image = mmcv.imrescale(
                    image, scale, interpolation=self.interpolation,
                    backend='cv2')
            else:
                image = mmcv.imresize(
                    image, scale, interpolation=self.interpolation,
                    backend='cv2')
        if input_size is not None and tuple(image.shape[:2]) != tuple(
                input_size):
            image = mmcv.imresize(
                image, (input_size[1], input_size[0]),
                interpolation=self.interpolation, backend='cv2')
        return image

    def __call__(self,
                 image: np.ndarray,
                 input_size: Optional[Tuple[int, int]] = None
                 ) -> Tuple[np.ndarray, Dict[str, Tuple[int, int]]]:
        """Preprocess one BGR ``uint8`` image.

        Returns:
            tuple: ``3 x H x W`` float32 array, and its meta:
            ``ori_shape`` (the image's size), ``img_shape`` (after resizing)
            and ``pad_shape`` (after padding), each ``(h, w)``.
        """
        ori_shape = tuple(image.shape[:2])
        image = self.resize(image, input_size)
        img_shape = tuple(image.shape[:2])
        x = image.astype(np.float32)
        if x.ndim == 2:
            x = x[..., None]
        if self.to_rgb and x.shape[2] == 3:
            x = x[..., ::-1]
        if self.mean is not None:
            x = x - self.mean
        if self.std is not None:
            x = x / self.std
        x = np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)
        ph, pw = img_shape
        if self.pad_size is not None:
            ph, pw = max(ph, self.pad_size[0]), max(pw, self.pad_size[1])
        if self.size_divisor:
            d = self.size_divisor
            ph, pw = -(-ph // d) * d, -(-pw // d) * d
        if input_size is not None:
            ph, pw = input_size
        if (ph, pw) != img_shape:
            padded = np.full((x.shape[0], ph, pw), self.pad_val, np.float32)
            padded[:, :img_shape[0], :img_shape[1]] = x
            x = padded
        return x, dict(
            ori_shape=ori_shape, img_shape=img_shape, pad_shape=(ph, pw))


# --------------------------------------------------------------------------
# dataset meta (classes and palette)
# --------------------------------------------------------------------------
def dataset_meta_from_config(cfg) -> Optional[Dict[str, list]]:
    """``{'classes', 'palette'}`` of the data set a config tests on: the
    ``metainfo`` of ``test_dataloader`` (else val/train) if it sets one,
    else the ``METAINFO`` of its mmseg dataset class. None when the config
    names no data set that mmseg knows."""
    import mmseg.datasets  # noqa: F401  (registers mmseg's data sets)
    from mmseg.registry import DATASETS
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        loader = cfg.get(key, None)
        dataset = loader.get('dataset', None) if loader else None
        while dataset is not None and 'type' in dataset and \
                'dataset' in dataset:   # e.g. RepeatDataset
            dataset = dataset['dataset']
        if not dataset or 'type' not in dataset:
            continue
        meta = dict(dataset.get('metainfo', None) or {})
        dataset_cls = DATASETS.get(dataset['type']) if isinstance(
            dataset['type'], str) else dataset['type']
        base = getattr(dataset_cls, 'METAINFO', {}) if dataset_cls else {}
        classes = meta.get('classes', base.get('classes'))
        palette = meta.get('palette', base.get('palette'))
        if classes:
            return dict(
                classes=list(classes),
                palette=[list(c) for c in palette] if palette else None)
    return None


def dataset_meta_for(num_classes: int,
                     meta: Optional[Dict[str, Any]] = None
                     ) -> Dict[str, list]:
    """Complete ``meta`` into ``classes`` and ``palette`` for
    ``num_classes`` classes; without one, take the first mmseg data set with
    that many classes (as :func:`mmseg.apis.init_model` does), else number
    the classes and draw a fixed random palette."""
    from .visualize import make_palette
    classes = list(meta['classes']) if meta and meta.get('classes') else None
    palette = meta.get('palette') if meta else None
    if classes is None:
        from mmseg.utils import dataset_aliases, get_classes, get_palette
        for name in dataset_aliases:
            if len(get_classes(name)) == num_classes:
                classes, palette = get_classes(name), get_palette(name)
                break
        else:
            classes = [str(i) for i in range(num_classes)]
    n = max(num_classes, len(classes))
    return dict(
        classes=list(classes),
        palette=[[int(v) for v in c] for c in make_palette(n, palette)])


def load_config(config) -> Any:
    """An mmengine ``Config`` from a file or a ``Config``; imports its
    ``custom_imports`` (``rgpnet_mmseg`` registers RGPHead)."""
    from mmengine.config import Config
    from mmengine.utils import import_modules_from_strings
    if isinstance(config, str):
        if not osp.isfile(config):
            raise InferenceError(f'Config file not found: {config}')
        config = Config.fromfile(config)
    if config.get('custom_imports', None):
        import_modules_from_strings(**config['custom_imports'])
    return config


# --------------------------------------------------------------------------
# the shared path
# --------------------------------------------------------------------------
class BaseSegmenter:
    """Image(s) in, label maps out; the backends only run the network.

    Subclasses implement :meth:`forward` (a ``N x 3 x H x W`` float32 batch
    to either ``N x C x H x W`` logits or ``N x 1 x H x W`` / ``N x H x W``
    integer labels) and may set :attr:`input_size` (a static model's
    ``(h, w)``) and :attr:`max_batch` (a static batch size).

    Args:
        preprocessor (Preprocessor): mmseg's test-time preprocessing.
        dataset_meta (dict, optional): ``classes`` and ``palette``.
        num_classes (int, optional): Used to complete ``dataset_meta``.
        align_corners (bool): Of the logits' resizing (the decode head's).
        threshold (float): For single-channel (binary) logits, as mmseg's
            ``decode_head.threshold``.
    """
    backend = ''
    input_size: Optional[Tuple[int, int]] = None
    max_batch: Optional[int] = None

    def __init__(self,
                 preprocessor: Preprocessor,
                 dataset_meta: Optional[Dict[str, Any]] = None,
                 num_classes: Optional[int] = None,
                 align_corners: bool = False,
                 threshold: float = 0.3):
        self.preprocessor = preprocessor
        if num_classes is None:
            num_classes = len(dataset_meta['classes']) if dataset_meta and \
                dataset_meta.get('classes') else 0
        self.num_classes = num_classes
        self.dataset_meta = dataset_meta_for(num_classes, dataset_meta)
        self.align_corners = align_corners
        self.threshold = threshold

    @property
    def classes(self) -> List[str]:
        return self.dataset_meta['classes']

    @property
    def palette(self) -> List[List[int]]:
        return self.dataset_meta['palette']

    def forward(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, image: ImageLike) -> np.ndarray:
        """Segment one image (a BGR array as OpenCV reads it, or a path).

        Returns:
            np.ndarray: ``H x W`` int64 class ids at the image's size.
        """
        return self.predict([image])[0]

    def predict(self, images: Sequence[ImageLike]) -> List[np.ndarray]:
        """Segment images; those of one size after preprocessing go through
        the network as one batch (up to :attr:`max_batch`)."""
        arrays = [read_image(i) if isinstance(i, str) else i for i in images]
        prepared = [self.preprocessor(a, self.input_size) for a in arrays]
        results: List[Optional[np.ndarray]] = [None] * len(prepared)
        groups: Dict[Tuple[int, ...], List[int]] = {}
        for i, (x, _) in enumerate(prepared):
            groups.setdefault(x.shape, []).append(i)
        step = self.max_batch or len(prepared)
        for idx in groups.values():
            for s in range(0, len(idx), step):
                chunk = idx[s:s + step]
                out = self.forward(np.stack([prepared[i][0] for i in chunk]))
                for j, i in enumerate(chunk):
                    results[i] = self.postprocess(out[j], prepared[i][1])
        return results  # type: ignore

    def postprocess(self, output: np.ndarray,
                    meta: Dict[str, Tuple[int, int]]) -> np.ndarray:
        """One image's network output to ``H x W`` int64 labels at
        ``meta['ori_shape']``: crop the padding, then resize (logits
        bilinearly and arg-max, as mmseg; labels nearest-neighbour)."""
        import cv2
        h, w = meta['img_shape']
        H, W = meta['ori_shape']
        output = np.asarray(output)
        if output.ndim == 2:
            output = output[None]
        output = output[:, :h, :w]
        if output.dtype.kind in 'biu':  # labels (mmdeploy's with_argmax)
            labels = output[0]
            if labels.shape != (H, W):
                labels = cv2.resize(
                    labels.astype(np.int32), (W, H),
                    interpolation=cv2.INTER_NEAREST)
            return labels.astype(np.int64)
        import torch
        import torch.nn.functional as F
        logits = torch.from_numpy(np.ascontiguousarray(output,
                                                       np.float32))[None]
        if (h, w) != (H, W):
            logits = F.interpolate(
                logits, size=(H, W), mode='bilinear',
                align_corners=self.align_corners)
        if logits.shape[1] > 1:
            labels = logits[0].argmax(dim=0)
        else:
            labels = (logits[0, 0].sigmoid() > self.threshold).long()
        return labels.numpy().astype(np.int64)


def _head_settings(cfg) -> Dict[str, Any]:
    """num_classes / align_corners / threshold of a config's (last) decode
    head."""
    head = cfg.model.get('decode_head', None) or {}
    if isinstance(head, (list, tuple)):
        head = head[-1]
    out = dict(align_corners=head.get('align_corners', False))
    if head.get('num_classes') is not None:
        out['num_classes'] = head['num_classes']
    if head.get('threshold') is not None:
        out['threshold'] = head['threshold']
    return out


class PytorchSegmenter(BaseSegmenter):
    """The PyTorch model, built and loaded by :func:`mmseg.apis.init_model`
    (so ``dataset_meta`` comes from the checkpoint, as mmseg's own API
    does), run through ``model.inference`` (whole or slide, as the config's
    ``test_cfg`` says).

    Args:
        config (str | Config): Model config.
        checkpoint (str, optional): mmengine checkpoint (``.pth``).
        device (str): ``'cpu'``, ``'cuda:0'``, ...
    """
    backend = 'pytorch'

    def __init__(self, config, checkpoint: Optional[str] = None,
                 device: str = 'cpu'):
        from mmseg.apis import init_model
        cfg = load_config(config)
        if checkpoint is not None and not osp.isfile(checkpoint):
            raise InferenceError(f'Checkpoint file not found: {checkpoint}')
        self.model = init_model(cfg, checkpoint, device=device)
        self.cfg = self.model.cfg
        self.device = device
        meta = getattr(self.model, 'dataset_meta', None)
        if not meta or not meta.get('classes'):
            meta = dataset_meta_from_config(self.cfg)
        settings = _head_settings(self.cfg)
        head = getattr(self.model, 'decode_head', None)
        if head is not None and not isinstance(head, (list, tuple)):
            settings['align_corners'] = getattr(head, 'align_corners', False)
        super().__init__(Preprocessor.from_config(self.cfg), meta, **settings)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        import torch
        n, _, h, w = batch.shape
        metas = [
            dict(img_shape=(h, w), pad_shape=(h, w), ori_shape=(h, w))
            for _ in range(n)
        ]
        inputs = torch.from_numpy(batch).to(self.device)
        with torch.no_grad():
            if hasattr(self.model, 'inference'):
                logits = self.model.inference(inputs, metas)
            else:
                logits = self.model.encode_decode(inputs, metas)
        return logits.float().cpu().numpy()


class OnnxRuntimeSegmenter(BaseSegmenter):
    """An ONNX model (mmdeploy's ``end2end.onnx``, or any export that maps
    the normalised ``N x 3 x H x W`` image to labels or logits) in ONNX
    Runtime.

    Args:
        model_file (str): The ``.onnx`` file.
        preprocessor (Preprocessor): The model's preprocessing.
        dataset_meta (dict, optional): ``classes`` and ``palette``.
        device (str): ``'cpu'`` or ``'cuda[:N]'`` (needs
            onnxruntime-gpu's CUDA execution provider).
        num_threads (int, optional): ONNX Runtime's intra-op threads.
        **kwargs: ``num_classes``, ``align_corners``, ``threshold``.
    """
    backend = 'onnxruntime'

    def __init__(self,
                 model_file: str,
                 preprocessor: Preprocessor,
                 dataset_meta: Optional[Dict[str, Any]] = None,
                 device: str = 'cpu',
                 num_threads: Optional[int] = None,
                 **kwargs):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise InferenceError(
                'the onnxruntime backend needs onnxruntime: pip install '
                '"rgpnet-mmseg[deploy]" (or onnxruntime-gpu)') from e
        if not osp.isfile(model_file):
            raise InferenceError(f'ONNX model file not found: {model_file}')
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        providers = ['CPUExecutionProvider']
        if device.startswith('cuda'):
            if 'CUDAExecutionProvider' not in ort.get_available_providers():
                raise InferenceError(
                    f'device {device!r} asks for ONNX Runtime\'s CUDA '
                    f'execution provider, which this onnxruntime does not '
                    f'have (install onnxruntime-gpu), or use --device cpu')
            index = int(device.split(':')[1]) if ':' in device else 0
            providers.insert(0, ('CUDAExecutionProvider',
                                 dict(device_id=index)))
        self.model_file = model_file
        self.session = ort.InferenceSession(
            model_file, sess_options=options, providers=providers)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        names = [o.name for o in self.session.get_outputs()]
        # mmdeploy's label map is 'output' (a debug export may add more)
        self.output_name = 'output' if 'output' in names else names[0]
        shape = list(inp.shape)
        if len(shape) == 4 and all(isinstance(s, int) for s in shape[2:]):
            self.input_size = (shape[2], shape[3])
        if len(shape) == 4 and isinstance(shape[0], int):
            self.max_batch = shape[0]
        super().__init__(preprocessor, dataset_meta, **kwargs)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name],
                                {self.input_name: batch})[0]


class TensorRTSegmenter(BaseSegmenter):
    """A TensorRT engine (mmdeploy's ``end2end.engine``), run on a CUDA
    device by :class:`rgpnet_mmseg.deploy.tensorrt.TRTRunner` (TensorRT's
    tensor-name API, TensorRT 8.6 to 11).

    Args:
        engine_file (str): The serialised engine.
        preprocessor (Preprocessor): The model's preprocessing.
        dataset_meta (dict, optional): ``classes`` and ``palette``.
        device (str): ``'cuda[:N]'``.
        **kwargs: ``num_classes``, ``align_corners``, ``threshold``.
    """
    backend = 'tensorrt'

    def __init__(self,
                 engine_file: str,
                 preprocessor: Preprocessor,
                 dataset_meta: Optional[Dict[str, Any]] = None,
                 device: str = 'cuda:0',
                 **kwargs):
        if not osp.isfile(engine_file):
            raise InferenceError(
                f'TensorRT engine file not found: {engine_file}')
        if not str(device).startswith('cuda'):
            raise InferenceError(
                f'the tensorrt backend runs on a CUDA device, not '
                f'{device!r}; pass --device cuda:0')
        import torch
        from rgpnet_mmseg.deploy.tensorrt import (TRTRunner,
                                                  tensorrt_unavailable_reason)
        reason = tensorrt_unavailable_reason()
        if reason:
            raise InferenceError(f'the tensorrt backend cannot run: {reason}')
        self.torch = torch
        self.engine_file = engine_file
        self.runner = TRTRunner(engine_file, device)
        self.input_name = self.runner.input_names[0]
        names = self.runner.output_names
        self.output_name = 'output' if 'output' in names else names[0]
        shape = tuple(self.runner.engine.get_tensor_shape(self.input_name))
        if len(shape) == 4 and all(s > 0 for s in shape[2:]):
            self.input_size = (int(shape[2]), int(shape[3]))
        if len(shape) == 4 and shape[0] > 0:
            self.max_batch = int(shape[0])
        super().__init__(preprocessor, dataset_meta, **kwargs)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        inputs = self.torch.from_numpy(batch)
        outputs = self.runner({self.input_name: inputs})
        return outputs[self.output_name].cpu().numpy()


# --------------------------------------------------------------------------
# resolving what the user names
# --------------------------------------------------------------------------
class DeployedModel:
    """What a dir written by ``tools/deploy.py`` (mmdeploy) holds: the
    backend file(s), ``pipeline.json`` (preprocessing), ``deploy.json`` and
    ``detail.json`` (which names the model config), and the model config.

    The model config (for the palette and class names, and the decode
    head's settings) is looked for as: a ``*.py`` model config in the dir
    (one with a ``model`` and a ``test_pipeline``/``test_dataloader``, not
    mmdeploy's deploy config), then the file ``detail.json`` names (as
    given, or relative to the dir). Without one, preprocessing comes from
    ``pipeline.json`` and class names from the class count (as mmseg's
    ``init_model`` does).
    """

    def __init__(self, path: str):
        if not osp.isdir(path):
            raise InferenceError(f'Deployed model dir not found: {path}')
        self.path = path
        self.detail = self._json('detail.json')
        self.pipeline_json = osp.join(path, 'pipeline.json')
        self.config = self._find_config()

    def _json(self, name: str) -> Dict[str, Any]:
        file = osp.join(self.path, name)
        if not osp.isfile(file):
            return {}
        with open(file) as f:
            return json.load(f)

    def _find_config(self):
        from mmengine.config import Config
        candidates = sorted(glob.glob(osp.join(self.path, '*.py')))
        named = (self.detail.get('codebase') or {}).get('config')
        if named:
            candidates += [named, osp.join(self.path, named),
                           osp.join(self.path, osp.basename(named))]
        for file in candidates:
            if not osp.isfile(file):
                continue
            try:
                cfg = Config.fromfile(file)
            except Exception:
                continue
            if 'model' in cfg and ('test_pipeline' in cfg
                                   or 'test_dataloader' in cfg):
                return load_config(cfg)
        return None

    def model_file(self, backend: str) -> str:
        for name in DEPLOYED_MODEL_FILES[backend]:
            file = osp.join(self.path, name)
            if osp.isfile(file):
                return file
        raise InferenceError(
            f'no {backend} model in {self.path} (looked for '
            f'{", ".join(DEPLOYED_MODEL_FILES[backend])}); name the model '
            f'file as the second argument')

    def available_backend(self) -> Optional[str]:
        """The backend the dir was deployed for (``detail.json``'s
        ``backend_config.type``; a TensorRT dir holds the ONNX file too),
        else the first whose model file is there (TensorRT first)."""
        named = (self.detail.get('backend_config') or {}).get('type')
        order = [named] if named in DEPLOYED_MODEL_FILES else []
        order += ['tensorrt', 'onnxruntime']
        for backend in order:
            for name in DEPLOYED_MODEL_FILES[backend]:
                if osp.isfile(osp.join(self.path, name)):
                    return backend
        return None

    def preprocessor(self) -> Preprocessor:
        if osp.isfile(self.pipeline_json):
            return Preprocessor.from_pipeline_json(self.pipeline_json)
        if self.config is not None:
            return Preprocessor.from_config(self.config)
        raise InferenceError(
            f'{self.path} has neither pipeline.json nor a model config: '
            f'cannot tell the preprocessing')

    def head_settings(self) -> Dict[str, Any]:
        """num_classes / align_corners / threshold of the decode head: from
        the model config, else from ``pipeline.json`` (mmdeploy puts the
        head's settings into its ``ResizeMask`` postprocessing task)."""
        if self.config is not None:
            return _head_settings(self.config)
        if not osp.isfile(self.pipeline_json):
            return {}
        with open(self.pipeline_json) as f:
            tasks = json.load(f)['pipeline']['tasks']
        params = next((t.get('params') for t in tasks
                       if t.get('component') == 'ResizeMask'), None) or {}
        out = {k: params[k] for k in ('num_classes', 'threshold')
               if params.get(k) is not None}
        out['align_corners'] = params.get('align_corners', False)
        return out

    def dataset_meta(self) -> Optional[Dict[str, list]]:
        return dataset_meta_from_config(self.config) \
            if self.config is not None else None


def backend_of(checkpoint: Optional[str]) -> Optional[str]:
    """The backend that runs a model file, by its ending (None if unknown
    or no file)."""
    if checkpoint is None:
        return None
    return BACKEND_BY_EXTENSION.get(osp.splitext(checkpoint)[1].lower())


def build_segmenter(model: str,
                    checkpoint: Optional[str] = None,
                    backend: Optional[str] = None,
                    device: Optional[str] = None,
                    num_threads: Optional[int] = None,
                    **kwargs) -> BaseSegmenter:
    """A segmenter for a config + checkpoint or a deployed dir.

    ``model`` is a model config (``.py``) or a dir written by
    ``tools/deploy.py``. ``checkpoint`` is the model file: ``.pth`` for
    PyTorch (with a config; None = random weights), ``.onnx`` for ONNX
    Runtime, ``.engine`` for TensorRT; for a deployed dir it may be omitted
    (the dir's ``end2end.engine`` / ``end2end.onnx`` is used, see
    :meth:`DeployedModel.available_backend`) or be a name inside the dir.
    ``backend`` is told by the file's ending and only needed where that is
    ambiguous (e.g. the ONNX file of a TensorRT dir); when given it must fit
    the file.

    Args:
        model (str): Config file or deployed dir.
        checkpoint (str, optional): Model file.
        backend (str, optional): ``pytorch``, ``onnxruntime`` or
            ``tensorrt``.
        device (str, optional): Default ``cuda:0`` for tensorrt, else
            ``cpu``.
        num_threads (int, optional): CPU threads of the network: ONNX
            Runtime's intra-op threads, or ``torch.set_num_threads`` (for
            the whole process) for PyTorch. Default: the libraries' own (all
            cores). On a machine whose cores other processes keep busy, 1
            can be many times faster (see docs/inference.md).
        **kwargs: Passed to the backend class.

    Raises:
        InferenceError: with a message naming what is missing.
    """
    if backend is not None and backend not in BACKENDS:
        raise InferenceError(
            f'unknown backend {backend!r}; one of {", ".join(BACKENDS)}')
    file_backend = backend_of(checkpoint)
    if checkpoint is not None and file_backend is None and backend is None:
        raise InferenceError(
            f'cannot tell the backend of {checkpoint} by its ending '
            f'({", ".join(BACKEND_BY_EXTENSION)}); pass --backend')
    if backend is not None and file_backend is not None and \
            backend != file_backend:
        raise InferenceError(
            f'{checkpoint} is a {file_backend} model, not {backend}')
    backend = backend or file_backend
    if num_threads is not None:
        if num_threads < 1:
            raise InferenceError(f'num_threads must be >= 1, not '
                                 f'{num_threads}')
        import torch
        torch.set_num_threads(num_threads)

    if osp.isdir(model):
        deployed = DeployedModel(model)
        if checkpoint is not None and not osp.isfile(checkpoint) and \
                osp.isfile(osp.join(model, checkpoint)):
            checkpoint = osp.join(model, checkpoint)  # named inside the dir
        backend = backend or deployed.available_backend()
        if backend is None:
            raise InferenceError(
                f'no model file in {model} (looked for '
                f'{", ".join(sum(DEPLOYED_MODEL_FILES.values(), ()))})')
        if backend == 'pytorch':
            if deployed.config is None:
                raise InferenceError(
                    f'no model config in {model} for the pytorch backend')
            return PytorchSegmenter(deployed.config, checkpoint,
                                    device or 'cpu')
        file = checkpoint or deployed.model_file(backend)
        cls = OnnxRuntimeSegmenter if backend == 'onnxruntime' \
            else TensorRTSegmenter
        if backend == 'onnxruntime':
            kwargs['num_threads'] = num_threads
        default_device = 'cuda:0' if backend == 'tensorrt' else 'cpu'
        return cls(file, deployed.preprocessor(), deployed.dataset_meta(),
                   device=device or default_device,
                   **deployed.head_settings(), **kwargs)

    if not osp.isfile(model):
        raise InferenceError(
            f'neither a config file nor a deployed model dir: {model}')
    if not model.lower().endswith(CONFIG_EXTENSIONS):
        raise InferenceError(
            f'{model} is not a config ({", ".join(CONFIG_EXTENSIONS)}) or a '
            f'deployed model dir')
    backend = backend or 'pytorch'
    if backend == 'pytorch':
        return PytorchSegmenter(model, checkpoint, device or 'cpu')
    if checkpoint is None:
        raise InferenceError(f'the {backend} backend needs a model file')
    cfg = load_config(model)
    cls = OnnxRuntimeSegmenter if backend == 'onnxruntime' \
        else TensorRTSegmenter
    if backend == 'onnxruntime':
        kwargs['num_threads'] = num_threads
    default_device = 'cuda:0' if backend == 'tensorrt' else 'cpu'
    return cls(checkpoint, Preprocessor.from_config(cfg),
               dataset_meta_from_config(cfg), device=device or default_device,
               **_head_settings(cfg), **kwargs)
