# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Generate the deterministic synthetic Cityscapes-format demo data set.

Usage::

    python tools/make_demo_data.py [--out data/demo] [--num-train N]
        [--num-val N] [--height H] [--width W] [--seed S] [--force]

The generator module is loaded straight from its file, so this tool needs
neither an installed ``rgpnet_mmseg`` nor mmseg/mmcv/torch (only numpy and
opencv-python).
"""
import argparse
import importlib.util
import os.path as osp
import sys
import time

MODULE_PATH = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'rgpnet_mmseg',
    'datasets', 'demo_data.py')


def load_demo_data_module():
    """Import ``rgpnet_mmseg/datasets/demo_data.py`` by its path.

    Returns:
        module: The loaded module.
    """
    name = 'rgpnet_mmseg_demo_data'
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, MODULE_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the synthetic Cityscapes-format demo data set')
    parser.add_argument(
        '--out', default='data/demo', help='output folder (data_root)')
    parser.add_argument('--num-train', type=int, default=48)
    parser.add_argument('--num-val', type=int, default=12)
    parser.add_argument('--height', type=int, default=128)
    parser.add_argument('--width', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--force',
        action='store_true',
        help='regenerate even if an up-to-date data set exists')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    demo_data = load_demo_data_module()
    start = time.perf_counter()
    try:
        summary = demo_data.generate_demo_cityscapes(
            args.out,
            num_train=args.num_train,
            num_val=args.num_val,
            height=args.height,
            width=args.width,
            seed=args.seed,
            force=args.force)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    splits = summary['splits']
    state = (f'generated in {elapsed:.1f}s'
             if summary['generated'] else 'up to date, nothing written')
    print(f"demo data at {summary['data_root']}: "
          f"{splits['train']['num_samples']} train + "
          f"{splits['val']['num_samples']} val images, "
          f"{args.height}x{args.width}, seed {args.seed}, all "
          f'{len(summary["classes"])} classes in each split ({state})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
