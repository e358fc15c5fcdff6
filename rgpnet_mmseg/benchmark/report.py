# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The one writer of the benchmarks: the printed text, markdown, JSON,
plots; the progress log (stderr)."""
import json
import math
import os
import os.path as osp
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

BEGIN, END = '<!-- heads-benchmark:begin -->', '<!-- heads-benchmark:end -->'
Style = Tuple[str, str, bool]  # marker, colour, filled


def log(line: str) -> None:
    """A progress line, to stderr (as it is now: pytest swaps it)."""
    print(line, file=sys.stderr, flush=True)


def fmt(value: Optional[float], digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, '-' for None, NaN and inf."""
    ok = value is not None and math.isfinite(value)
    return f'{value:.{digits}f}' if ok else '-'


def table(header: str, rows: List[list]) -> List[str]:
    """A markdown table's lines: a blank one, ``header`` (``'a | b'``), the
    rule, one per row (a list of cells)."""
    return ['', f'| {header} |', '|' + ' --- |' * (header.count('|') + 1)
            ] + ['| ' + ' | '.join(map(str, row)) + ' |' for row in rows]


def write(text: str, result: Any = None, md: Optional[str] = None,
          js: Optional[str] = None, png: Optional[str] = None,
          plot: Optional[Callable[[Any, str], None]] = None) -> None:
    """Print ``text``, write it to ``md`` (between :data:`BEGIN` and
    :data:`END` where the file has both), ``result`` to ``js``,
    ``plot(result, png)``."""
    print(text)
    for path in filter(None, (md, js, png)):
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    if md:
        old = open(md).read() if osp.isfile(md) else ''
        if BEGIN in old and END in old:
            text = (old.partition(BEGIN)[0] + f'{BEGIN}\n{text}\n{END}' +
                    old.partition(END)[2])
        with open(md, 'w') as f:
            f.write(text)
    if js:
        with open(js, 'w') as f:
            json.dump(result, f, indent=1, default=str)
    if png:
        plot(result, png)


def save_plot(path: str, points: Sequence[Tuple[float, float]],
              styles: Sequence[Style], labels: Sequence[str],
              legend: Sequence[Tuple[Style, str]], title: str, yerr=None,
              line: Optional[tuple] = None, log: bool = False,
              **axes) -> None:
    """A PNG of ``points`` in their ``styles``, ``labels`` ('' none) placed
    clear of the others, ``legend`` (style, text), error bars ``yerr``, a
    dashed ``line`` (xs, ys, text), log-log (``log``), ``axes`` (xlabel...).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter
    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=100)
    for i, (m, c, filled) in enumerate(styles):
        ax.errorbar(*points[i], yerr=yerr and yerr[i], fmt=m, ms=6, c=c,
                    capsize=3, zorder=3, mfc=c if filled else 'none')
    for (m, c, filled), text in legend:
        ax.errorbar([], [], fmt=m, c=c, mfc=c if filled else 'none',
                    label=text)
    if line:
        ax.plot(*line[:2], '--', c='gray', lw=1, label=line[2])
    if log:
        ax.set(xscale='log', yscale='log')
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(lambda v, _: f'{v:g}'))
            axis.set_minor_formatter(FuncFormatter(
                lambda v, _: f'{v:g}' if f'{v:g}'[0] in '25' else ''))
        ax.tick_params(which='minor', labelsize=7)
    ax.legend(loc='best', fontsize=7.5)
    ax.set(**axes)
    ax.set_title(title, fontsize=9)
    ax.grid(True, which='both', alpha=0.25)
    ax.margins(0.15)
    fig.tight_layout()
    fig.canvas.draw()  # labels: the first offset clear of the others,
    pixels = [ax.transData.transform(p) for p in points]  # top to bottom
    taken = [(px - 9, py - 9, px + 9, py + 9) for px, py in pixels]
    offsets = [(d * sx, d * sy, sx, sy) for d in (8, 16, 26) for sx, sy in (
        (1, 1), (-1, 1), (1, -1), (-1, -1), (0, 1.2), (0, -1.2))]
    for i in sorted((i for i, t in enumerate(labels) if t),
                    key=lambda i: -pixels[i][1]):
        for dx, dy, sx, sy in offsets:  # the text measured without its line
            kw = dict(xytext=(dx, dy), textcoords='offset points',
                      fontsize=7.5, va='bottom' if sy > 0 else 'top',
                      ha={1: 'left', 0: 'center', -1: 'right'}[sx])
            probe = ax.annotate(labels[i], points[i], **kw)
            e = probe.get_window_extent(fig.canvas.get_renderer())
            probe.remove()
            if not any(e.x0 < b[2] and b[0] < e.x1 and e.y0 < b[3] and
                       b[1] < e.y1 for j, b in enumerate(taken) if j != i):
                break
        taken.append((e.x0, e.y0, e.x1, e.y1))
        ax.annotate(labels[i], points[i], **kw, arrowprops=dict(
            arrowstyle='-', lw=0.5, color='0.5', shrinkA=0, shrinkB=3))
    fig.savefig(path)
    plt.close(fig)
