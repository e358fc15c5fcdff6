# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Test (and evaluate) a segmentor: mmseg's ``tools/test.py`` with up-front
checks. Exit status: 0 tested; 1 a missing or unreadable config, data or
checkpoint file; 3 a checkpoint that does not fit the config's model (one
line, before the Runner writes anything)."""
import argparse
import os.path as osp
import sys

from mmengine.runner import Runner

from rgpnet_mmseg.apis.errors import parse_run_args, run_or_exit


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='MMSeg test (and eval) a model')
    add = parser.add_argument
    add('config', help='test config file path')
    add('checkpoint', help='checkpoint file')
    add('--work-dir', help='dir for the metric results')
    add('--out', help='dir to save the predictions for offline evaluation')
    add('--show', action='store_true', help='show prediction results')
    add('--show-dir', help='dir to save painted predictions in; a relative '
        'path is taken under the work dir')
    add('--wait-time', type=float, default=2, help='the interval of show (s)')
    add('--tta', action='store_true', help='test time augmentation')
    return parse_run_args(parser, 'test_dataloader.batch_size=2')


def run(args: argparse.Namespace) -> None:
    from rgpnet_mmseg.utils import load_run_config, preflight
    from rgpnet_mmseg.utils.checkpoint import check_checkpoint_fits
    cfg = load_run_config(args.config, args.work_dir, args.cfg_options,
                          args.launcher)
    check_checkpoint_fits(cfg, args.checkpoint)  # before the Runner writes
    preflight(cfg, ('test_dataloader', ), pretrained=False)

    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:  # the config's VisualizationHook on
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            sys.exit('error: --show/--show-dir need default_hooks.'
                     "visualization=dict(type='SegVisualizationHook') in the "
                     'config')
        hook['draw'] = True
        if args.show:
            hook.update(show=True, wait_time=args.wait_time)
        if args.show_dir:
            cfg.visualizer['save_dir'] = osp.join(cfg.work_dir, args.show_dir)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator.update(output_dir=args.out, keep_results=True)
    Runner.from_cfg(cfg).test()


def main() -> None:
    args = parse_args()
    run_or_exit(lambda: run(args))


if __name__ == '__main__':
    main()
