#!/usr/bin/env bash
# Distributed testing with torchrun:
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# Several nodes: set NNODES, NODE_RANK, MASTER_ADDR and PORT on each node.
source "$(dirname "$0")/launch_common.sh"
dist_launch "$(dirname "$0")/test.py" "CONFIG CHECKPOINT" "$@"
