# Copyright (c) rgpnet-mmseg contributors. All rights reserved.
"""The package's import structure, read from its source (imports inside
functions counted): no import circle, and each room imports only rooms
below it: benchmark -> apis -> deploy -> models/engine/datasets ->
utils/compat; compat imports no other room."""
import ast
from pathlib import Path
from typing import Dict, Set

from .conftest import REPO_ROOT

PACKAGE = 'rgpnet_mmseg'
RANK = dict(compat=0, version=0, utils=1, models=2, engine=2, datasets=2,
            **{'': 3}, deploy=4, apis=5, benchmark=6)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def import_graph(root: Path = REPO_ROOT) -> Dict[str, Set[str]]:
    """Module -> the package's modules it imports (``from pkg import mod``
    resolved to the submodule where it is one)."""
    files = {module_name(p, root): p
             for p in (root / PACKAGE).rglob('*.py')}
    graph = {}
    for name, path in files.items():
        is_pkg = path.name == '__init__.py'
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ''
                if node.level:
                    depth = len(name.split('.')) + is_pkg - node.level
                    here = name.split('.')[:depth]
                    base = '.'.join(here + ([base] if base else []))
                targets |= {f'{base}.{a.name}' if f'{base}.{a.name}' in files
                            else base for a in node.names}
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def room(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def find_cycle(graph: Dict[str, Set[str]]):
    """One import circle as a list of modules, or None."""
    state: Dict[str, int] = {}
    stack: list = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_find_cycle_finds_one():
    """The checker itself, on a graph with a known circle."""
    graph = dict(a={'b'}, b={'c'}, c={'a'}, d={'a'})
    assert find_cycle(graph) == ['a', 'b', 'c', 'a']
    assert find_cycle(dict(a={'b'}, b=set())) is None
    assert 'rgpnet_mmseg.deploy.segmentor' in import_graph()[
        'rgpnet_mmseg.deploy']  # `from .segmentor import ...` resolved


def test_no_import_circle():
    assert find_cycle(import_graph()) is None


def test_rooms_import_downwards():
    wrong = sorted(
        f'{a} -> {b}' for a, targets in import_graph().items()
        for b in targets if room(a) != room(b)
        and (RANK[room(b)] > RANK[room(a)] or room(a) == 'compat'))
    assert wrong == []
