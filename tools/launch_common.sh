# Sourced by tools/{dist,slurm}_{train,test}.sh: {dist,slurm}_launch TOOL
# NAMES ARGS... run the Python TOOL (torchrun, srun) on the ARGS named in
# NAMES ("CONFIG [CHECKPOINT]"), --launcher and the rest of ARGS.
set -euo pipefail

dist_launch() {  # TOOL NAMES NAMES... GPUS [TOOL args...]
  local tool=$1 names=($2); shift 2
  local n=${#names[@]} k=$((${#names[@]} + 1))
  GPUS=${!k}  # missing: exits, "unbound variable" (set -u)
  NNODES=${NNODES:-1} NODE_RANK=${NODE_RANK:-0} PORT=${PORT:-29500}
  MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
  PYTHONPATH="$(dirname "$tool")/..${PYTHONPATH:+:$PYTHONPATH}" \
  ${PYTHON:-python} -m torch.distributed.run --nnodes="$NNODES" \
      --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
      --nproc_per_node="$GPUS" --master_port="$PORT" \
      "$tool" "${@:1:n}" --launcher pytorch "${@:n+2}"
}

slurm_launch() {  # TOOL NAMES PARTITION JOB_NAME NAMES... [TOOL args...]
  local tool=$1 names=($2); shift 2
  local n=${#names[@]}
  if [ $# -lt $((n + 2)) ]; then
    echo "usage: [GPUS=2] [GPUS_PER_NODE=2] $0 PARTITION JOB_NAME" \
      "${names[*]} [${tool##*/} args...]" >&2
    exit 2
  fi
  GPUS=${GPUS:-2} GPUS_PER_NODE=${GPUS_PER_NODE:-2}
  if [ "$GPUS" -lt "$GPUS_PER_NODE" ]; then GPUS_PER_NODE=$GPUS; fi
  CPUS_PER_TASK=${CPUS_PER_TASK:-5} SRUN_ARGS=${SRUN_ARGS:-""}
  export MASTER_PORT=${PORT:-${MASTER_PORT:-29500}}
  TOOLS="$(cd "$(dirname "$tool")" && pwd)"
  # shellcheck disable=SC2086  # SRUN_ARGS is a list of options
  PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
  srun -p "$1" --job-name="$2" --gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" \
      --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" \
      --kill-on-bad-exit=1 $SRUN_ARGS \
      ${PYTHON:-python} -u "$TOOLS/${tool##*/}" "${@:3:n}" --launcher slurm \
      "${@:n+3}"
}
