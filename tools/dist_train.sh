#!/usr/bin/env bash
# Distributed training with torchrun:
#   bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on each node.
source "$(dirname "$0")/launch_common.sh"
dist_launch "$(dirname "$0")/train.py" CONFIG "$@"
