# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Helper of ``tools/device_check.sh``: ``env OUT`` writes OUT/env.json
(torch, CUDA, GPU, TensorRT, mmcv ops; exit 3: no TensorRT); ``report
OUT`` writes OUT/report.json and report.md from it, OUT/steps.tsv (name,
exit status, seconds) and the steps' logs (exit 1: a step failed)."""
import json
import re
import sys
from pathlib import Path

KEEP = r'^(parity |mIoU on |SKIPPED|FAILED|error:|TensorRT)|Iter\(val\)'
SUMMARY = r'\d+ (passed|failed|skipped|deselected)'  # pytest's


def env() -> dict:
    import mmcv
    import torch
    from mmcv.ops import get_compiling_cuda_version

    from rgpnet_mmseg.compat.tensorrt import tensorrt_unavailable_reason
    cuda, reason = torch.cuda.is_available(), tensorrt_unavailable_reason()
    return dict(
        torch=torch.__version__, cuda=torch.version.cuda, cuda_available=cuda,
        gpu=torch.cuda.get_device_name(0) if cuda else None,
        tensorrt=None if reason else __import__('tensorrt').__version__,
        tensorrt_unavailable=reason, mmcv=mmcv.__version__,
        mmcv_ops_cuda=get_compiling_cuda_version())


def step(out: Path, name: str, rc: str, seconds: str) -> dict:
    log = (out / f'{name}.log').read_text(errors='replace').splitlines()
    keep = [s for s in log if re.search(KEEP, s)] + [
        s.strip('= ') for s in log if re.search(SUMMARY, s)][-1:]
    return dict(name=name, rc=int(rc), seconds=int(seconds), lines=keep or
                log[-3:], ok=rc == '0' or (name, rc) == ('env', '3'))


def report(out: Path) -> bool:
    info = json.loads((out / 'env.json').read_text())
    steps = [step(out, *r.split('\t')) for r in open(out / 'steps.tsv')]
    ok = all(s['ok'] for s in steps)
    (out / 'report.json').write_text(json.dumps(dict(
        ok=ok, env=info, steps=steps), indent=2) + '\n')
    md = ['# Device check', '', f'Overall: {"OK" if ok else "FAILED"}', '',
          '| | |', '| --- | --- |', *(f'| {k} | {v} |' for k, v in
                                     info.items()), '',
          '| step | exit (124: timeout) | seconds | result |', '|-|-|-|-|']
    md += [f'| {s["name"]} | {s["rc"]} | {s["seconds"]} | '
           f'{"<br>".join(s["lines"]).replace("|", "/")} |' for s in steps]
    (out / 'report.md').write_text('\n'.join(md) + '\n')
    return ok


if __name__ == '__main__':
    mode, out = sys.argv[1], Path(sys.argv[2])
    if mode == 'report':
        sys.exit(0 if report(out) else 1)
    info = env()
    (out / 'env.json').write_text(json.dumps(info, indent=2) + '\n')
    print(info['tensorrt_unavailable'] or f'TensorRT {info["tensorrt"]}')
    sys.exit(3 if info['tensorrt_unavailable'] else 0)
