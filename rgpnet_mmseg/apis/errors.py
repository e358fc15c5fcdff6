# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Errors that mean "the user's input is wrong", not "the code is wrong".

``tools/train.py`` and ``tools/test.py`` print these as one line
(``error: <type>: <message naming the file/field>``) and exit with status
1, instead of a traceback; ``tools/test.py`` exits 3 for a
:class:`~rgpnet_mmseg.utils.checkpoint.CheckpointMismatchError` (a
``CheckpointError``: a checkpoint that does not fit its config).
"""
from rgpnet_mmseg.compat import CheckpointError
from rgpnet_mmseg.datasets.transforms import DataFileError
from rgpnet_mmseg.engine.hooks.label_check_hook import LabelValueError
from rgpnet_mmseg.utils.preflight import PreflightError

USER_ERRORS = (FileNotFoundError, PreflightError, CheckpointError,
               DataFileError, LabelValueError, FloatingPointError)


def user_error_message(err: BaseException) -> str:
    """The one line a tool prints for ``err``."""
    return f'error: {type(err).__name__}: {err}'
