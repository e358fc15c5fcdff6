# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The one timing loop and environment report of the benchmarks
(:mod:`rgpnet_mmseg.benchmark`), and the conditions they measure under."""
import contextlib
import os
import platform
import time
from typing import Any, Callable, Dict, List, Optional

import torch

ISA_FLAGS = dict(avx2='avx2', avx512f='avx512', avx512_vnni='avx512_vnni',
                 amx_tile='amx')  # /proc/cpuinfo flag -> the report's name


def time_round_robin(fns: Dict[Any, Callable],
                     repeats: int,
                     warmup: int = 1,
                     device: Any = 'cpu',
                     prepare: Optional[Callable[[Any], Any]] = None,
                     log: Optional[Callable[[str], None]] = None
                     ) -> Dict[Any, List[float]]:
    """Call every function once per round, ``warmup`` untimed rounds then
    ``repeats`` timed ones, the order rotated by one every round, each
    call synchronised (CUDA).

    Args:
        fns (dict): Name -> function, called as ``fn()``, or as
            ``fn(prepare(name))`` (not timed) when ``prepare`` is given.
        repeats (int): Timed rounds.
        warmup (int): Untimed rounds first. Default: 1.
        device: The device to synchronise. Default: ``'cpu'``.
        prepare (callable, optional): Makes a call's argument (a batch).
        log (callable, optional): Gets a line after each timed round.

    Returns:
        dict: Name -> seconds in each timed round.
    """
    sync = torch.cuda.synchronize if str(device).startswith('cuda') else (
        lambda device: None)
    names, times = list(fns), {name: [] for name in fns}
    for r in range(warmup + repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            args = () if prepare is None else (prepare(name), )
            sync(device)
            start = time.perf_counter()
            fns[name](*args)
            sync(device)
            if r >= warmup:
                times[name].append(time.perf_counter() - start)
        if log is not None and r >= warmup:
            log(f'  round {r - warmup + 1}/{repeats} done')
    return times


@contextlib.contextmanager
def measuring(threads: Optional[int] = None, seed: int = 0):
    """While open: ``threads`` torch threads (None: as they are), the RNGs
    seeded with ``seed``, CUDA matmuls in true FP32 (no TF32); all three
    restored after."""
    matmul, saved = torch.backends.cuda.matmul, torch.get_num_threads()
    key = 'fp32_precision' if hasattr(matmul, 'fp32_precision') else \
        'allow_tf32'
    precision = getattr(matmul, key)
    torch.set_num_threads(threads or saved)
    setattr(matmul, key, 'ieee' if key == 'fp32_precision' else False)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(saved)
        setattr(matmul, key, precision)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, ``'a / b / c'``."""
    return ' / '.join(f'{v:.2f}' for v in os.getloadavg())


def environment(device: Any = 'cpu',
                threads: Optional[int] = None) -> Dict[str, Any]:
    """CPU model and vector ISA, logical CPUs, threads, device (GPU), torch,
    ONNX Runtime and Python versions, load average; ``'line'``: all of it.
    """
    info = {}
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            for key, _, value in (line.partition(':') for line in f):
                info.setdefault(key.strip(), value.strip())
    flags = info.get('flags', '').split()
    env = dict(cpu=info.get('model name', platform.machine()),
               cpu_count=os.cpu_count(),
               isa=[name for flag, name in ISA_FLAGS.items() if flag in flags],
               threads=threads or torch.get_num_threads(), device=str(device),
               torch=torch.__version__, python=platform.python_version(),
               load=load_average())
    if env['device'].startswith('cuda'):
        env['gpu'] = torch.cuda.get_device_name(device)
    with contextlib.suppress(ImportError):
        import onnxruntime
        env['onnxruntime'] = onnxruntime.__version__
    gpu = f' ({env["gpu"]})' if 'gpu' in env else ''
    ort = f', onnxruntime {env["onnxruntime"]}' if 'onnxruntime' in env else ''
    env['line'] = (
        f'{device}{gpu}, {env["threads"]} thread(s), {env["cpu"]} '
        f'({env["cpu_count"]} logical CPUs; '
        f'{" ".join(env["isa"]) or "no AVX2"}), torch {env["torch"]}{ort}, '
        f'load average {env["load"]}')
    if not gpu and os.getloadavg()[0] > 0.5:
        env['busy_note'] = (
            f'note: load average {env["load"]}: other processes use the CPU;'
            ' absolute times will be off (several threads per process may '
            'thrash: try --threads 1), the ratios of one run still hold.')
    return env
