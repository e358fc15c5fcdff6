#!/usr/bin/env bash
# Table 4 / fig. 5 on the demo data: configs/rgpnet_r18_{demo,pr-ce_demo,
# pr-lr_demo,lr_demo}.py (full-scale CE, PR + CE, PR + LR, full-scale LR)
# per seed (runs already done are kept), JOBS at a time on one thread each;
# PR + LR against PR + CE by entropy_diff.py on every val image; a summary.
#   [OUT=work_dirs/table4_demo SEEDS="0 1 2" JOBS=2] bash tools/table4_demo.sh
set -eu
OUT=${OUT:-work_dirs/table4_demo} SEEDS=${SEEDS:-0 1 2}
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1 OUT PY
run() {  # $1 = run name, $2 = seed; appends run, seed, wall s, mIoU
  local dir=$OUT/$2/$1 t0=$SECONDS
  [ -f "$dir/iter_400.pth" ] && return  # done by an earlier call
  $PY tools/train.py "configs/rgpnet_r18_$1.py" --work-dir "$dir" \
    --cfg-options randomness.seed="$2" >"$dir.log" 2>&1
  miou=$(grep -ho '"mIoU": [0-9.]*' "$dir"/*/vis_data/scalars.json)
  echo -e "$1\t$2\t$((SECONDS - t0))\t${miou#*: }" >>"$OUT/runs.tsv"
}
export -f run
for s in $SEEDS; do mkdir -p "$OUT/$s"; for r in demo pr-ce_demo pr-lr_demo \
  lr_demo; do echo "$r $s"; done; done |
  xargs -P "${JOBS:-2}" -L 1 bash -c 'run $0 $1'
for s in $SEEDS; do for img in data/demo/leftImg8bit/val/*/*.png; do
  n=$(basename "$img" _leftImg8bit.png) d=$OUT/$s/pr- e=$OUT/$s/entropy_
  label=$(dirname "${img/leftImg8bit/gtFine}")/${n}_gtFine_labelTrainIds.png
  $PY tools/analysis_tools/entropy_diff.py configs/rgpnet_r18_pr-lr_demo.py \
    "${d}lr_demo/iter_400.pth" configs/rgpnet_r18_pr-ce_demo.py \
    "${d}ce_demo/iter_400.pth" "$img" --label "$label" \
    --out "$e$n.png" --json "$e$n.json" --name-a PR+LR --name-b PR+CE
done; done >/dev/null
$PY - "$OUT" <<'PY'
import glob, json, statistics as st, sys
rows, out = {}, sys.argv[1]
for run, _, wall, miou in (x.split() for x in open(f'{out}/runs.tsv')):
    rows.setdefault(run, []).append((float(wall), float(miou)))
ms = lambda v, d=2: f'{st.mean(v):.{d}f} ± {st.stdev(v):.{d}f}'
full = st.mean(w for w, _ in rows['demo'])
print('| run | seeds | mIoU (%) | wall (s) | wall / full-scale CE |')
for run, v in rows.items():
    w = [x for x, _ in v]
    print(f'| {run} | {len(v)} | {ms([m for _, m in v])} | {ms(w, 0)} | '
          f'{st.mean(w) / full:.2f} |')
for key in ('border', 'non_border'):  # pixel-weighted per seed
    S = [[json.load(open(f)) for f in glob.glob(d + 'entropy_*.json')]
         for d in glob.glob(f'{out}/*/')]
    m = {a: [sum(s[a][key] * s['num_' + key] for s in x) /
             sum(s['num_' + key] for s in x) for x in S] for a in 'ab'}
    print(f'{key} entropy (nats, mean ± std over seeds): PR + LR '
          f'{ms(m["a"], 3)}, PR + CE {ms(m["b"], 3)}')
PY
