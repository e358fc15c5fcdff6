# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""Helper of ``tools/device_check.sh``: ``env OUT`` writes OUT/env.json
(exit 3: no TensorRT); ``report OUT`` writes OUT/report.json and report.md
from it, OUT/steps.tsv (name, exit status, seconds), the steps' logs and
OUT/zoo*.md (exit 1: a step failed)."""
import json
import re
import sys
from pathlib import Path

KEEP = (r'^(parity |mIoU on |SKIPPED|FAILED|error:|TensorRT|\| (pytorch|'
        r'onnxruntime|tensorrt))|Iter\(val\)|: skipped \(')
SUMMARY = r'\d+ (passed|failed|skipped|deselected)'  # pytest's


def mmcv_ops(device: str) -> dict:
    """Whether ``mmcv.ops`` imports (its compiled ``_ext``), its CUDA
    version, and ``mmcv.ops.nms`` on ``device`` against the known answer."""
    import torch
    try:
        from mmcv.ops import get_compiling_cuda_version, nms
    except Exception as err:  # noqa: BLE001 - e.g. no mmcv._ext
        return dict(mmcv_ops=f'not importable: {err}')
    boxes = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
    try:
        _, keep = nms(boxes.to(device), torch.tensor([.9, .8, .7]).to(
            device), 0.5)
        ran = 'OK' if keep.tolist() == [0, 2] else f'wrong: {keep.tolist()}'
    except Exception as err:  # noqa: BLE001
        ran = f'failed: {type(err).__name__}: {err}'
    return dict(mmcv_ops='imported', mmcv_ops_cuda=get_compiling_cuda_version(
    ), **{f'mmcv_nms_{device}': ran})


def env() -> dict:
    import mmcv
    import torch

    from rgpnet_mmseg.deploy.backends.tensorrt import \
        tensorrt_unavailable_reason
    cuda, reason = torch.cuda.is_available(), tensorrt_unavailable_reason()
    trt = None if reason else __import__('tensorrt')
    return dict(
        torch=torch.__version__, cuda=torch.version.cuda, cuda_available=cuda,
        gpu=torch.cuda.get_device_name(0) if cuda else None,
        tensorrt=trt and trt.__version__, tensorrt_unavailable=reason,
        tensorrt_int8=trt and hasattr(trt.BuilderFlag, 'INT8') and hasattr(
            trt, 'IInt8EntropyCalibrator2'), mmcv=mmcv.__version__,
        **mmcv_ops('cuda' if cuda else 'cpu'))


def step(out: Path, name: str, rc: str, seconds: str) -> dict:
    log = (out / f'{name}.log').read_text(errors='replace').splitlines()
    keep = [s for s in log if re.search(KEEP, s)] + [
        s.strip('= ') for s in log if re.search(SUMMARY, s)][-1:]
    return dict(name=name, rc=int(rc), seconds=int(seconds), lines=keep or
                log[-3:], ok=rc == '0' or (name, rc) == ('env', '3') or (
                    rc == '2' and re.fullmatch('deploy_.*int8', name)
                    is not None))  # INT8 parity below its gate: shown


def report(out: Path) -> bool:
    info = json.loads((out / 'env.json').read_text())
    steps = [step(out, *r.split('\t')) for r in open(out / 'steps.tsv')]
    ok = all(s['ok'] for s in steps)
    (out / 'report.json').write_text(json.dumps(dict(
        ok=ok, env=info, steps=steps), indent=2) + '\n')
    md = ['# Device check', '', f'Overall: {"OK" if ok else "FAILED"}', '',
          '| | |', '| --- | --- |',
          *(f'| {k} | {v} |' for k, v in info.items()), '',
          '| step | exit (124: timeout) | seconds | result |', '|-|-|-|-|']
    md += [f'| {s["name"]} | {s["rc"]} | {s["seconds"]} | '
           f'{"<br>".join(s["lines"]).replace("|", "/")} |' for s in steps]
    for table in sorted(out.glob('zoo*.md')):  # zoo.md, zoo_compile_*.md
        md += ['', f'## {table.stem}', '', table.read_text().strip()]
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
