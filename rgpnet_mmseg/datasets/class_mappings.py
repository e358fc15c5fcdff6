# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Mapillary Vistas v1.2 -> Cityscapes classes for the paper's "PM"
initialisation (sec. 4.5, table 7; our mapping, the paper lists none):
:data:`MAPILLARY_TO_CITYSCAPES` (Mapillary class -> covering train id or
None), :data:`CITYSCAPES_FROM_MAPILLARY` (train id -> the Mapillary class
whose classifier row initialises it).
"""
from typing import Dict, List, Optional, Sequence

# mmseg's MapillaryDataset_v1 order; "Unlabeled" is ignored by our configs
MAPILLARY_V12_CLASSES = (
    'Bird', 'Ground Animal', 'Curb', 'Fence', 'Guard Rail', 'Barrier', 'Wall',
    'Bike Lane', 'Crosswalk - Plain', 'Curb Cut', 'Parking', 'Pedestrian Area',
    'Rail Track', 'Road', 'Service Lane', 'Sidewalk', 'Bridge', 'Building',
    'Tunnel', 'Person', 'Bicyclist', 'Motorcyclist', 'Other Rider',
    'Lane Marking - Crosswalk', 'Lane Marking - General', 'Mountain', 'Sand',
    'Sky', 'Snow', 'Terrain', 'Vegetation', 'Water', 'Banner', 'Bench',
    'Bike Rack', 'Billboard', 'Catch Basin', 'CCTV Camera', 'Fire Hydrant',
    'Junction Box', 'Mailbox', 'Manhole', 'Phone Booth', 'Pothole',
    'Street Light', 'Pole', 'Traffic Sign Frame', 'Utility Pole',
    'Traffic Light', 'Traffic Sign (Back)', 'Traffic Sign (Front)',
    'Trash Can', 'Bicycle', 'Boat', 'Bus', 'Car', 'Caravan', 'Motorcycle',
    'On Rails', 'Other Vehicle', 'Trailer', 'Truck', 'Wheeled Slow',
    'Car Mount', 'Ego Vehicle', 'Unlabeled')
MAPILLARY_65_CLASSES = MAPILLARY_V12_CLASSES[:65]

# The 19 Cityscapes train ids (mmseg's CityscapesDataset order).
CITYSCAPES_CLASSES = ('road', 'sidewalk', 'building', 'wall', 'fence',
                      'pole', 'traffic light', 'traffic sign', 'vegetation',
                      'terrain', 'sky', 'person', 'rider', 'car', 'truck',
                      'bus', 'train', 'motorcycle', 'bicycle')

# Per train id the Mapillary classes it covers, the first initialising it
_COVERED = (
    ('Road', 'Bike Lane', 'Crosswalk - Plain', 'Service Lane',
     'Lane Marking - Crosswalk', 'Lane Marking - General'),
    ('Sidewalk', 'Curb', 'Curb Cut', 'Pedestrian Area'),
    ('Building', ), ('Wall', ), ('Fence', ),
    ('Pole', 'Street Light', 'Traffic Sign Frame', 'Utility Pole'),
    ('Traffic Light', ), ('Traffic Sign (Front)', ), ('Vegetation', ),
    ('Terrain', 'Sand'), ('Sky', ), ('Person', ),
    ('Bicyclist', 'Motorcyclist', 'Other Rider'),
    ('Car', ), ('Truck', ), ('Bus', ), ('On Rails', ), ('Motorcycle', ),
    ('Bicycle', ))

MAPILLARY_TO_CITYSCAPES: Dict[str, Optional[int]] = {
    m: next((cid for cid, names in enumerate(_COVERED) if m in names), None)
    for m in MAPILLARY_V12_CLASSES}
CITYSCAPES_FROM_MAPILLARY: Dict[int, str] = {
    cid: names[0] for cid, names in enumerate(_COVERED)}


def unmapped_mapillary_classes() -> List[str]:
    """Mapillary v1.2 classes that no Cityscapes train id covers."""
    return [c for c in MAPILLARY_V12_CLASSES
            if MAPILLARY_TO_CITYSCAPES[c] is None]


def cityscapes_source_rows(
        mapillary_classes: Sequence[str] = MAPILLARY_65_CLASSES,
        merge: str = 'primary') -> List[List[int]]:
    """Per Cityscapes train id, the Mapillary classifier rows to use.

    Args:
        mapillary_classes (Sequence[str]): The classifier's class names in
            row order. Default: the 65 classes of our Mapillary configs.
        merge (str): ``'primary'``: one row per Cityscapes class
            (:data:`CITYSCAPES_FROM_MAPILLARY`); ``'mean'``: all the rows
            :data:`MAPILLARY_TO_CITYSCAPES` maps to it. Default: 'primary'.

    Returns:
        list[list[int]]: 19 lists of row indices.
    """
    index = {name: i for i, name in enumerate(mapillary_classes)}
    ids = range(len(CITYSCAPES_CLASSES))
    if merge == 'primary':
        wanted = [[CITYSCAPES_FROM_MAPILLARY[c]] for c in ids]
    elif merge == 'mean':
        wanted = [[m for m, c in MAPILLARY_TO_CITYSCAPES.items() if c == cid]
                  for cid in ids]
    else:
        raise ValueError(f"merge must be 'primary' or 'mean', got {merge!r}")
    missing = sorted({m for names in wanted for m in names} - set(index))
    if missing:
        raise ValueError(
            f'the Mapillary classifier has no rows for {missing}; its classes '
            f'are {list(mapillary_classes)}')
    return [[index[m] for m in names] for names in wanted]
