#!/usr/bin/env bash
# Distributed training on a Slurm cluster (one task per GPU), as mmseg's
# tools/slurm_train.sh:
#   [GPUS=2] [GPUS_PER_NODE=2] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [train.py args...]
# The paper's setup (2 GPUs x 6 images, SyncBN) is the default:
#   bash tools/slurm_train.sh gpu rgpnet configs/rgpnet_r18_cityscapes.py
# Two nodes of 4 GPUs: GPUS=8 GPUS_PER_NODE=4 bash tools/slurm_train.sh ...
# Environment: CPUS_PER_TASK (5), SRUN_ARGS (extra srun options, e.g.
# "--time=48:00:00"), PORT (rendezvous port, MASTER_PORT; 29500), PYTHON.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: [GPUS=2] [GPUS_PER_NODE=2] $0 PARTITION JOB_NAME CONFIG [train.py args...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=${GPUS:-2}
GPUS_PER_NODE=${GPUS_PER_NODE:-2}
if [ "$GPUS" -lt "$GPUS_PER_NODE" ]; then GPUS_PER_NODE=$GPUS; fi
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
export MASTER_PORT=${PORT:-${MASTER_PORT:-29500}}
TOOLS="$(cd "$(dirname "$0")" && pwd)"

# shellcheck disable=SC2086  # SRUN_ARGS is a list of options
PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    ${PYTHON:-python} -u "$TOOLS/train.py" "$CONFIG" --launcher slurm "${@:4}"
