#!/usr/bin/env bash
# Distributed testing on a Slurm cluster (one task per GPU), as mmseg's
# tools/slurm_test.sh:
#   [GPUS=2] [GPUS_PER_NODE=2] bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
# Environment: as tools/slurm_train.sh.
source "$(dirname "$0")/launch_common.sh"
slurm_launch "$(dirname "$0")/test.py" "CONFIG CHECKPOINT" "$@"
