# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
from .decode_heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .utils import fold_bn_into_conv, fuse_conv_bn  # noqa: F401
