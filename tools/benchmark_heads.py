# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""``python tools/benchmark.py heads``: RGPHead against mmseg's decode heads
on one ResNet-18 encoder (configs/heads/), trained and timed the same way
(docs/heads_benchmark.md)."""


def add_arguments(parser) -> None:
    """The options of the ``heads`` mode."""


def run(args) -> int:
    """Train, measure and tabulate every head config."""
    raise NotImplementedError('heads mode: work in progress')
