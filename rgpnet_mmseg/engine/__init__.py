# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .hooks import *  # noqa
