# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The one timing loop and environment report of ``tools/benchmark.py``."""
import os
import platform
import statistics
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

# /proc/cpuinfo flag -> the name the report uses
ISA_FLAGS = (('avx2', 'avx2'), ('avx512f', 'avx512'),
             ('avx512_vnni', 'avx512_vnni'), ('amx_tile', 'amx'))


def synchronize(device: Any) -> None:
    """Wait for the device's queued work (CUDA); a no-op on the CPU."""
    import torch
    if str(device).startswith('cuda'):
        torch.cuda.synchronize(device)


def time_round_robin(fns: Dict[str, Callable[..., Any]],
                     repeats: int,
                     warmup: int = 1,
                     device: Any = 'cpu',
                     prepare: Optional[Callable[[str], Any]] = None,
                     log: Optional[Callable[[str], None]] = None
                     ) -> Dict[str, List[float]]:
    """Time every function once per round, ``warmup`` untimed rounds, then
    ``repeats`` timed ones, in an order rotated by one every round (a
    change of the machine's load hits all alike; no function always follows
    the same one); each call is bracketed by :func:`synchronize`.

    Args:
        fns (dict): Name -> function, called as ``fn()``, or as
            ``fn(prepare(name))`` (``prepare`` untimed) when given.
        repeats (int): Timed rounds.
        warmup (int): Untimed rounds first. Default: 1.
        device: The device to synchronise. Default: ``'cpu'``.
        prepare (callable, optional): Makes a call's argument (a batch).
        log (callable, optional): Called with a line after each round.

    Returns:
        dict: Name -> seconds per timed round (index = round).
    """
    names = list(fns)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in range(warmup + repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            args = () if prepare is None else (prepare(name), )
            synchronize(device)
            start = time.perf_counter()
            fns[name](*args)
            synchronize(device)
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
        if log is not None and r >= warmup:
            log(f'  round {r - warmup + 1}/{repeats} done')
    return times


def summarize(seconds: Sequence[float]) -> Dict[str, float]:
    """Median, 90th percentile and minimum (ms) and FPS (1 / median)."""
    ms = sorted(t * 1e3 for t in seconds)
    median = statistics.median(ms)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return dict(median_ms=median, p90_ms=p90,
                min_ms=ms[0], fps=1e3 / median)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, ``'a / b / c'``."""
    return ' / '.join(f'{v:.2f}' for v in os.getloadavg())


def environment(device: Any = 'cpu',
                threads: Optional[int] = None) -> Dict[str, Any]:
    """CPU model and vector ISA (avx2, avx512, avx512_vnni, amx from
    ``/proc/cpuinfo``), logical CPUs, threads, device (GPU), torch, ONNX
    Runtime and Python versions, and the load average now."""
    import torch
    info = {}
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                info.setdefault(key.strip(), value.strip())
    flags = set(info.get('flags', '').split())
    env = dict(cpu=info.get('model name', platform.machine()),
               cpu_count=os.cpu_count(),
               isa=[name for flag, name in ISA_FLAGS if flag in flags],
               threads=threads or torch.get_num_threads(),
               device=str(device), torch=torch.__version__,
               python=platform.python_version(), load=load_average())
    if str(device).startswith('cuda'):
        env['gpu'] = torch.cuda.get_device_name(device)
    try:
        import onnxruntime
        env['onnxruntime'] = onnxruntime.__version__
    except ImportError:
        pass
    return env


def describe(env: Dict[str, Any]) -> str:
    """:func:`environment` in one line."""
    gpu = f' ({env["gpu"]})' if 'gpu' in env else ''
    ort = f', onnxruntime {env["onnxruntime"]}' if 'onnxruntime' in env else ''
    return (f'{env["device"]}{gpu}, {env["threads"]} thread(s), {env["cpu"]} '
            f'({env["cpu_count"]} logical CPUs; '
            f'{" ".join(env["isa"]) or "no AVX2"}), torch {env["torch"]}'
            f'{ort}, load average {env["load"]}')


def busy_note(device: Any) -> Optional[str]:
    """A warning when other processes use the CPU (load average > 0.5)."""
    if str(device).startswith('cuda') or os.getloadavg()[0] <= 0.5:
        return None
    return (f'note: load average {load_average()}: other processes use the '
            'CPU; absolute times will be off (several threads per process '
            'may thrash: try --threads 1), the ratios of one run still '
            'compare its rows.')
