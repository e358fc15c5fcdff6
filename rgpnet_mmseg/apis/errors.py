# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""User errors, which the tools print as one line, not a traceback, and the
options that ``tools/train.py`` and ``tools/test.py`` share."""
import argparse
import os
import sys
from typing import Any, Callable

from rgpnet_mmseg.compat import CheckpointError
from rgpnet_mmseg.datasets.transforms import DataFileError
from rgpnet_mmseg.engine.hooks.label_check_hook import LabelValueError
from rgpnet_mmseg.utils.checkpoint import CheckpointMismatchError
from rgpnet_mmseg.utils.preflight import PreflightError

USER_ERRORS = (FileNotFoundError, PreflightError, CheckpointError,
               DataFileError, LabelValueError, FloatingPointError)


def run_or_exit(run: Callable[[], Any], *extra: type) -> Any:
    """``run()``; a user error (:data:`USER_ERRORS`, ``extra``) exits 1 (3: a
    ``CheckpointMismatchError``) with ``error: <type>: <message>``."""
    try:
        return run()
    except USER_ERRORS + extra as err:
        message = f'error: {type(err).__name__}: {err}'
        if not isinstance(err, CheckpointMismatchError):
            sys.exit(message)
        print(message, file=sys.stderr)
        sys.exit(3)


def parse_run_args(parser: argparse.ArgumentParser,
                   example: str) -> argparse.Namespace:
    """Parse the command line with ``--cfg-options`` (help: e.g.
    ``example``), ``--launcher`` and ``--local-rank`` (-> ``LOCAL_RANK``)."""
    from mmengine.config import DictAction
    add = parser.add_argument
    add('--cfg-options', nargs='+', action=DictAction,
        help=f'override config settings, e.g. {example}')
    add('--launcher', default='none', help='job launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'])
    add('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args
