# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Test (and evaluate) a segmentor: mmseg's ``tools/test.py`` with up-front
checks.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
        [--show-dir DIR] [--tta] [--cfg-options k=v ...] [--launcher pytorch]

Exit status: 0 tested; 1 a config, data or checkpoint file that is missing
or unreadable (one line naming it); 3 a checkpoint that does not fit the
config's model (one line: the counts of missing, unexpected and other-shape
tensors and what the checkpoint is), checked before the Runner writes
anything.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.runner import Runner


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='MMSeg test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='dir for the metric results')
    parser.add_argument(
        '--out', help='dir to save the predictions for offline evaluation')
    parser.add_argument('--show', action='store_true',
                        help='show prediction results')
    parser.add_argument(
        '--show-dir', help='dir to save painted predictions in; a relative '
        'path is taken under the work dir')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, e.g. test_dataloader.batch_size=2')
    parser.add_argument('--launcher', default='none', help='job launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--tta', action='store_true',
                        help='test time augmentation')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg, args: argparse.Namespace) -> None:
    """Turn the config's ``VisualizationHook`` on for --show/--show-dir."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        sys.exit('error: --show/--show-dir need default_hooks.visualization='
                 "dict(type='SegVisualizationHook') in the config")
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = osp.join(cfg.work_dir, args.show_dir)


def run(args: argparse.Namespace) -> None:
    from rgpnet_mmseg.utils import load_run_config, preflight
    from rgpnet_mmseg.utils.checkpoint import check_checkpoint_fits
    cfg = load_run_config(args.config, args.work_dir, args.cfg_options,
                          args.launcher)
    check_checkpoint_fits(cfg, args.checkpoint)  # before the Runner writes
    preflight(cfg, ('test_dataloader', ), pretrained=False)

    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    runner = Runner.from_cfg(cfg)
    runner.test()


def main() -> None:
    args = parse_args()
    # importing rgpnet_mmseg registers its modules and the torch.load fix
    from rgpnet_mmseg.apis.errors import USER_ERRORS, user_error_message
    from rgpnet_mmseg.utils.checkpoint import CheckpointMismatchError
    try:
        run(args)
    except CheckpointMismatchError as err:
        print(user_error_message(err), file=sys.stderr)
        sys.exit(3)
    except USER_ERRORS as err:
        sys.exit(user_error_message(err))


if __name__ == '__main__':
    main()
