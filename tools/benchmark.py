# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Benchmark RGPNet: ``python tools/benchmark.py MODE ...`` (``--help``);
the modes are :mod:`rgpnet_mmseg.benchmark`."""
import sys

from rgpnet_mmseg.benchmark import main

if __name__ == '__main__':
    sys.exit(main())
