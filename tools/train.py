# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Train a segmentor: mmseg's ``tools/train.py`` with up-front checks."""
import argparse
import logging
import sys

from mmengine.logging import print_log
from mmengine.runner import Runner

from rgpnet_mmseg.apis.errors import parse_run_args, run_or_exit


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    add = parser.add_argument
    add('config', help='train config file path')
    add('--work-dir', help='the dir to save logs and models')
    add('--resume', action='store_true',
        help='resume from the latest checkpoint in the work_dir')
    add('--amp', action='store_true',
        help='enable automatic-mixed-precision training')
    return parse_run_args(parser, 'train_cfg.max_iters=100')


def run(args: argparse.Namespace) -> None:
    from rgpnet_mmseg.utils import load_run_config, preflight
    from rgpnet_mmseg.utils.checkpoint import check_load_from
    cfg = load_run_config(args.config, args.work_dir, args.cfg_options,
                          args.launcher)
    preflight(cfg, ('train_dataloader', 'val_dataloader'))

    if args.amp:
        if cfg.optim_wrapper.type == 'AmpOptimWrapper':
            print_log('AMP training is already enabled in your config.',
                      logger='current', level=logging.WARNING)
        elif cfg.optim_wrapper.type != 'OptimWrapper':
            sys.exit('error: --amp needs optim_wrapper.type=OptimWrapper, '
                     f'got {cfg.optim_wrapper.type}')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    cfg.resume = args.resume
    check_load_from(cfg)  # a bad load_from/resume file: one line, no Runner

    from mmseg.registry import RUNNERS
    (RUNNERS.build if 'runner_type' in cfg else Runner.from_cfg)(cfg).train()


def main() -> None:
    args = parse_args()
    run_or_exit(lambda: run(args))


if __name__ == '__main__':
    main()
