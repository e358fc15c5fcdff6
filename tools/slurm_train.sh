#!/usr/bin/env bash
# Distributed training on a Slurm cluster (one task per GPU), as mmseg's
# tools/slurm_train.sh:
#   [GPUS=2] [GPUS_PER_NODE=2] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
# The paper's setup (2 GPUs x 6 images, SyncBN) is the default:
#   bash tools/slurm_train.sh gpu rgpnet configs/rgpnet_r18_cityscapes.py
# Two nodes of 4 GPUs: GPUS=8 GPUS_PER_NODE=4 bash tools/slurm_train.sh ...
# Environment: CPUS_PER_TASK (5), SRUN_ARGS (extra srun options, e.g.
# "--time=48:00:00"), PORT (rendezvous port, MASTER_PORT; 29500), PYTHON.
source "$(dirname "$0")/launch_common.sh"
slurm_launch "$(dirname "$0")/train.py" CONFIG "$@"
