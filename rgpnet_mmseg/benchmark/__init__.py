# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The benchmarks of RGPNet, ``python tools/benchmark.py MODE``: rows timed
round-robin by one loop (rgpnet_mmseg.utils.timing), written by one writer
(.report). Every mode takes [--repeats N] [--warmup N] [--threads N]
[--device cpu|cuda] [--seed N].

  zoo       RGPNet beside mmseg's real-time models, fast paths, GEMM
            ceiling, --train, --profile (docs/benchmark_zoo.md)
  deploy    a config on PyTorch and deployed backends (docs/deployment.md)
  training  progressive resizing x CE/label relaxation, schedule ratio
  loss      the two losses alone (both: docs/training_benchmark.md)
  heads     RGPHead beside mmseg's heads on one encoder (configs/heads/,
            docs/heads_benchmark.md)
  frame     a frame's labels at its size vs the network alone
            (docs/cpu_deploy.md)
"""
import argparse
import sys
from typing import Optional, Sequence

import torch

from rgpnet_mmseg.utils.timing import environment, measuring
from . import deploy, heads, training, zoo

MODES = {  # mode: (its options, its run, --repeats and --warmup defaults)
    'zoo': (zoo.add_arguments, zoo.run, 5, 1),
    'deploy': (deploy.add_arguments, deploy.run, 50, 10),
    'training': (training.add_arguments, training.run_training, 5, 1),
    'loss': (lambda add: None, training.run_loss, 7, 1),
    'heads': (heads.add_arguments, heads.run, 20, 5),
    'frame': (deploy.add_frame_arguments, deploy.run_frame, 10, 2),
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """A mode and its options."""
    parser = argparse.ArgumentParser(
        prog='tools/benchmark.py', description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter)
    modes = parser.add_subparsers(dest='mode', required=True)
    for mode, (add_arguments, _, repeats, warmup) in MODES.items():
        add = modes.add_parser(mode).add_argument
        add('--repeats', type=int, default=repeats,
            help=f'timed rounds, median reported ({repeats})')
        add('--warmup', type=int, default=warmup,
            help=f'untimed rounds first ({warmup})')
        add('--threads', type=int, help='torch and ONNX Runtime threads')
        add('--device', help='cpu or cuda (cuda if available)')
        add('--seed', type=int, default=0, help='random seed')
        add_arguments(add)
    args = parser.parse_args(argv)
    if min(args.repeats, 1 if args.threads is None else args.threads) < 1 \
            or args.warmup < 0:
        parser.error('--repeats and --threads must be >= 1, --warmup >= 0')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run a mode under :func:`~rgpnet_mmseg.utils.timing.measuring`."""
    args = parse_args(argv)
    args.command = ' '.join(['python tools/benchmark.py', *(
        sys.argv[1:] if argv is None else argv)])
    args.device = args.device or ('cuda'
                                  if torch.cuda.is_available() else 'cpu')
    env = environment(args.device)
    if 'busy_note' in env:
        print(env['busy_note'], file=sys.stderr)
    with measuring(args.threads, args.seed):
        return MODES[args.mode][1](args) or 0
