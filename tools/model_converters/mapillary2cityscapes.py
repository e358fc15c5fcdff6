# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Turn a Mapillary-trained RGPNet checkpoint into a Cityscapes start point
(the paper's "PM", sec. 4.5, table 7): per Cityscapes class the classifier
row (1x1 conv weight, bias) of the Mapillary class of the same meaning
(:mod:`rgpnet_mmseg.datasets.class_mappings`), other weights kept; the rows'
classes from ``meta['dataset_meta']['classes']``, else our configs' 65 (65
rows) or Mapillary v1.2's 66. The output loads weights-only; it is the
``load_from`` of ``configs/rgpnet/rgpnet_r101-d32-mapillary-pre_2xb6-80k_
cityscapes-1024x1024.py``::

    python tools/model_converters/mapillary2cityscapes.py \
        work_dirs/rgpnet_r101-d32_2xb6-80k_mapillary-1024x1024/iter_80000.pth \
        checkpoints/rgpnet_r101-d32_mapillary-pre_cityscapes-init.pth
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.runner.checkpoint import CheckpointLoader

# importing rgpnet_mmseg makes mmengine load local files weights-only
from rgpnet_mmseg.datasets.class_mappings import (CITYSCAPES_CLASSES,
                                                  MAPILLARY_65_CLASSES,
                                                  MAPILLARY_V12_CLASSES,
                                                  cityscapes_source_rows)
from mmseg.datasets import CityscapesDataset

HEAD_SUFFIX = 'conv_seg'


def _mapillary_classes(checkpoint: dict, num_rows: int) -> Sequence[str]:
    """The class of each classifier row (see the module docstring)."""
    classes = checkpoint.get('meta')
    for key in ('dataset_meta', 'classes'):
        classes = classes.get(key) if isinstance(classes, dict) else None
    if classes is not None:
        if len(classes) != num_rows:
            raise ValueError(
                f'the checkpoint\'s dataset_meta lists {len(classes)} classes '
                f'but its classifier has {num_rows} rows')
        return list(classes)
    known = {len(c): c for c in (MAPILLARY_65_CLASSES, MAPILLARY_V12_CLASSES)}
    if num_rows in known:
        return known[num_rows]
    raise ValueError(
        f'the classifier has {num_rows} rows and the checkpoint names no '
        'classes (meta.dataset_meta.classes); a Mapillary v1.2 model has '
        '65 (or 66, with "Unlabeled")')


def convert(src: str, dst: str,
            merge: str = 'primary') -> List[Tuple[str, List[str]]]:
    """Convert a Mapillary checkpoint into a Cityscapes initialisation.

    Args:
        src (str): Mapillary checkpoint (mmengine format or a state dict).
        dst (str): Output path.
        merge (str): ``'primary'`` (the row of the class of the same meaning)
            or ``'mean'`` (of the rows mapped to it). Default: ``'primary'``.

    Returns:
        list[tuple[str, list[str]]]: Each Cityscapes class, its sources.
    """
    checkpoint = CheckpointLoader.load_checkpoint(src, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)  # or a bare one
    if 'state_dict' not in checkpoint and not (checkpoint and all(
            map(torch.is_tensor, checkpoint.values()))):
        raise ValueError('the file holds neither a `state_dict` nor a bare '
                         'state dict of tensors')
    heads = sorted(k[:-len('.weight')] for k in state_dict
                   if k.endswith(f'{HEAD_SUFFIX}.weight'))
    if not heads:
        raise ValueError(f'{src}: no classifier (`*.{HEAD_SUFFIX}.weight`) '
                         'in the state dict')
    num_rows = {state_dict[f'{h}.weight'].shape[0] for h in heads}
    if len(num_rows) != 1:
        raise ValueError(f'{src}: classifiers of different sizes: {heads}')
    classes = _mapillary_classes(checkpoint, num_rows.pop())
    rows = cityscapes_source_rows(classes, merge)

    out_state = {k: v.detach().clone() for k, v in state_dict.items()}
    for key in (f'{h}.{name}' for h in heads for name in ('weight', 'bias')):
        if key in state_dict:
            out_state[key] = torch.stack(
                [state_dict[key][idx].mean(dim=0) for idx in rows])
    palette = [list(map(int, c))
               for c in CityscapesDataset.METAINFO['palette']]
    meta = dict(
        converted_by='tools/model_converters/mapillary2cityscapes.py',
        source=osp.basename(src), merge=merge, classifiers=heads,
        mapillary_classes=[str(c) for c in classes],
        source_rows=[[int(i) for i in idx] for idx in rows],
        dataset_meta=dict(classes=list(CITYSCAPES_CLASSES), palette=palette))
    os.makedirs(osp.dirname(osp.abspath(dst)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict=out_state), dst)
    return [(c, [str(classes[i]) for i in idx])
            for c, idx in zip(CITYSCAPES_CLASSES, rows)]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description='Reorder the classifier of a Mapillary checkpoint into '
        'Cityscapes order (the paper\'s "PM" initialisation)')
    parser.add_argument('src', help='Mapillary-trained checkpoint')
    parser.add_argument('dst', help='output checkpoint (for load_from)')
    parser.add_argument(
        '--merge', choices=['primary', 'mean'], default='primary',
        help='primary: the row of the Mapillary class of the same meaning; '
        'mean: the mean of the rows of all Mapillary classes mapped to it')
    args = parser.parse_args(argv)
    try:
        table = convert(args.src, args.dst, args.merge)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        sys.exit(f'error: {err}')
    for city, sources in table:
        print(f'{city:>14} <- {", ".join(sources)}')
    print(f'saved {args.dst}')


if __name__ == '__main__':
    main()
