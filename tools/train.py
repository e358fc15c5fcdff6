# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Train a segmentor: mmseg's ``tools/train.py`` with up-front checks.

    python tools/train.py configs/rgpnet_r18_demo.py [--work-dir DIR]
        [--resume] [--amp] [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse
import logging
import os
import sys

from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', action='store_true',
                        help='resume from the latest checkpoint in the '
                        'work_dir')
    parser.add_argument('--amp', action='store_true',
                        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', default='none', help='job launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


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

    if 'runner_type' in cfg:
        from mmseg.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()


def main() -> None:
    args = parse_args()
    # importing rgpnet_mmseg registers its modules and the torch.load fix
    from rgpnet_mmseg.apis.errors import USER_ERRORS, user_error_message
    try:
        run(args)
    except USER_ERRORS as err:
        sys.exit(user_error_message(err))


if __name__ == '__main__':
    main()
