# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Loading transforms that name the file they cannot read.

The stock transforms (mmcv 2.1 / mmseg 1.2.2) raise, for a truncated,
empty or garbage file, errors without the file's name (``cv2.error``,
``OSError: image file is truncated``, ``UnidentifiedImageError ...
<_io.BytesIO ...>``) and take a colour label image without complaint;
docs/reliability.md lists them. :class:`CheckedLoadImageFromFile` and
:class:`CheckedLoadAnnotations` subclass mmcv's ``LoadImageFromFile`` and
mmseg's ``LoadAnnotations``, take the same arguments, do the same thing,
and turn those failures into one :class:`DataFileError` (or
``FileNotFoundError``) naming the file and the cause. They are added to
mmseg's ``TRANSFORMS`` under their own names, the stock transforms stay as
they are; a pipeline opts in by name::

    dict(type='CheckedLoadImageFromFile'), dict(type='CheckedLoadAnnotations')
"""
from typing import Optional

from mmcv.transforms import LoadImageFromFile

from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

__all__ = [
    'DataFileError', 'CheckedLoadImageFromFile', 'CheckedLoadAnnotations'
]


class DataFileError(OSError):
    """An image or label file that cannot be decoded, or holds no usable
    image (empty, truncated, corrupted, wrong format)."""


def _unreadable(kind: str, filename: str, err: BaseException) -> str:
    return (f'Cannot read {kind} {filename}: the file is empty, truncated, '
            f'corrupted or not an image ({type(err).__name__}: '
            f'{str(err).strip()}). '
            'Replace the file, or regenerate the data set.')


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` (same arguments and results) whose
    errors name the image file.

    Raises:
        FileNotFoundError: The image file does not exist (unless
            ``ignore_empty=True``, which returns None as mmcv does).
        DataFileError: The file cannot be decoded into an image.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results['img_path']``."""
        filename = results['img_path']
        try:
            return super().transform(results)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f'Image file not found: {filename}') from err
        except Exception as err:  # noqa: BLE001 - reworded with the name
            raise DataFileError(_unreadable('image file', filename,
                                            err)) from err


@TRANSFORMS.register_module()
class CheckedLoadAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` (same arguments and results) whose
    errors name the label file, and which refuses a label image that is not
    a single-channel map of class ids (e.g. a colour-coded RGB label).

    Label *values* are checked against the model's classes by
    :class:`rgpnet_mmseg.engine.hooks.LabelCheckHook`, which knows
    ``num_classes`` and ``ignore_index``; this transform does not.

    Raises:
        FileNotFoundError: The label file does not exist.
        DataFileError: The file cannot be decoded, or it is not a 2-D map.
    """

    def _load_seg_map(self, results: dict) -> None:
        """Load ``results['seg_map_path']`` into ``results['gt_seg_map']``."""
        filename = results['seg_map_path']
        try:
            super()._load_seg_map(results)
        except FileNotFoundError as err:
            raise FileNotFoundError(
                f'Label map file not found: {filename}') from err
        except AssertionError:
            # mmseg's own check that reduce_zero_label agrees with the
            # dataset: a config error with its own message, not the file's
            raise
        except Exception as err:  # noqa: BLE001 - reworded with the name
            raise DataFileError(_unreadable('label map file', filename,
                                            err)) from err
        seg = results['gt_seg_map']
        if seg.ndim != 2:
            raise DataFileError(
                f'Label map {filename} decodes to an array of shape '
                f'{tuple(seg.shape)}, not a single-channel (H, W) map of '
                'class ids: is it a colour-coded label image? Convert it to '
                'class ids (e.g. Cityscapes *_labelTrainIds.png).')
