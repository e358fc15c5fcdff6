# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .preflight import PreflightError, check_data, check_pretrained, preflight
from .run_config import load_run_config

__all__ = ['PreflightError', 'check_data', 'check_pretrained', 'preflight',
           'load_run_config']
