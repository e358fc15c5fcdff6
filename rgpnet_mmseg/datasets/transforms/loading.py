# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""mmcv's ``LoadImageFromFile`` and mmseg's ``LoadAnnotations`` whose
errors name the file (:class:`DataFileError`, docs/reliability.md)."""
from contextlib import contextmanager
from typing import Iterator, Optional

from mmcv.transforms import LoadImageFromFile

from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

__all__ = ['DataFileError', 'CheckedLoadImageFromFile',
           'CheckedLoadAnnotations']


class DataFileError(OSError):
    """An image or label file that cannot be decoded into a usable image."""


@contextmanager
def _naming_file(kind: str, filename: str, keep: tuple = ()) -> Iterator:
    """Loading errors re-raised naming ``filename``, but ``keep``."""
    try:
        yield
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'{kind.capitalize()} not found: {filename}') from err
    except keep:
        raise
    except Exception as err:  # noqa: BLE001 - reworded with the name
        raise DataFileError(
            f'Cannot read {kind} {filename}: the file is empty, truncated, '
            f'corrupted or not an image ({type(err).__name__}: '
            f'{str(err).strip()}). '
            'Replace the file, or regenerate the data set.') from err


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` whose errors name the image file.

    Raises:
        FileNotFoundError: The image file does not exist (unless
            ``ignore_empty=True``, which returns None as mmcv does).
        DataFileError: The file cannot be decoded into an image.
    """

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results['img_path']``."""
        with _naming_file('image file', results['img_path']):
            return super().transform(results)


@TRANSFORMS.register_module()
class CheckedLoadAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` whose errors name the label file, and
    which refuses a label image that is not a single-channel map.

    Raises:
        FileNotFoundError: The label file does not exist.
        DataFileError: The file cannot be decoded, or it is not a 2-D map.
    """

    def _load_seg_map(self, results: dict) -> None:
        """Load ``results['seg_map_path']`` into ``results['gt_seg_map']``."""
        filename = results['seg_map_path']
        # reduce_zero_label's assert: a config error, not the file's
        with _naming_file('label map file', filename, (AssertionError, )):
            super()._load_seg_map(results)
        seg = results['gt_seg_map']
        if seg.ndim != 2:
            raise DataFileError(
                f'Label map {filename} decodes to an array of shape '
                f'{tuple(seg.shape)}, not a single-channel (H, W) map of '
                'class ids: is it a colour-coded label image? Convert it to '
                'class ids (e.g. Cityscapes *_labelTrainIds.png).')
