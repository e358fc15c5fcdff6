"""The README and docs hold when a user copies them.

* Every command they give (shell blocks, and inline ``tools/...`` spans) names
  a script that exists, and every ``--flag`` it passes is one the script
  takes (its ``--help``; a shell script: its text or the Python tool it
  runs); ``make`` targets and variables exist; named config files exist.
* Every Python block runs as written: examples (blocks that import) in a
  copy of the repo layout after ``make demo`` (the demo data, a checkpoint of
  the demo model at ``work_dirs/rgpnet_r18_demo/iter_400.pth``, and
  ``work_dirs/deploy_ort`` made by the deployment doc's own command);
  config fragments are built into the paper's Cityscapes config (types
  registered, model and hooks built).
"""
import os
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from .deploy_helpers import demo_checkpoint
from .docs_blocks import (REPO_ROOT, all_blocks, documented_commands,
                          split_command)
from .run_helpers import tool_env

MMSEG_TOOLS = Path(__import__('mmseg').__file__).parent / '.mim'
# Blocks that run as written but take minutes, not seconds (run by hand).
SLOW = {
    'for folder in': 'labels at 5 sizes up to 1024x2048 on every val image, '
                     'two deployed models: minutes',
}
PYTHON_BLOCKS = all_blocks('python')
COMMANDS = documented_commands()


def _is_example(text: str) -> bool:
    return re.search(r'^\s*(import|from)\s+\w', text, re.M) is not None


@lru_cache(maxsize=None)
def tool_help(script: str, mode: str = '') -> str:
    """``python SCRIPT [MODE] --help``, run from the repo root."""
    cmd = [sys.executable, script] + ([mode] if mode else []) + ['--help']
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=tool_env(), text=True,
                          capture_output=True, timeout=300)
    assert proc.returncode == 0, f'{" ".join(cmd)}:\n{proc.stderr[-2000:]}'
    return proc.stdout


def _flags(words):
    return [part.split('=')[0] for w in words for part in w.split('/')
            if re.match(r'^--[a-z]', part)]


def _has_flag(text: str, flag: str) -> bool:
    return re.search(rf'(?<![\w-]){re.escape(flag)}(?![\w-])', text) \
        is not None


def _script_path(word: str) -> Path:
    path = REPO_ROOT / word
    if not path.exists() and '/.mim/' not in word:
        path = MMSEG_TOOLS / word  # a tool of mmseg's, named by its path
    return path


def _check_python_tool(words) -> None:
    script = words[0]
    path = _script_path(script)
    assert path.is_file(), f'no such tool: {script}'
    mode = words[1] if path.name == 'benchmark.py' and \
        path.parent == REPO_ROOT / 'tools' else ''
    text = tool_help(str(path), mode)
    missing = [f for f in _flags(words[1:]) if not _has_flag(text, f)]
    assert not missing, f'{script} {mode} does not take {missing}'


def _check_shell_tool(words) -> None:
    path = REPO_ROOT / words[0]
    assert path.is_file(), f'no such script: {words[0]}'
    source = path.read_text()
    missing = [f for f in _flags(words[1:]) if not _has_flag(source, f)]
    if missing:  # passed on to the Python tool it runs (train.py, test.py)
        tools = [path.parent / f'{name}.py'
                 for name in re.findall(r'/(train|test)\.py', source)]
        helps = ''.join(tool_help(str(t)) for t in tools if t.is_file())
        missing = [f for f in missing if not _has_flag(helps, f)]
    assert not missing, f'{words[0]} does not take {missing}'


def _check_make(words) -> None:
    makefile = (REPO_ROOT / 'Makefile').read_text()
    for word in words[1:]:
        if '=' in word:
            var = word.split('=')[0]
            assert re.search(rf'\b{var}\b', makefile), f'no make var {var}'
        else:
            assert re.search(rf'^{re.escape(word)}:', makefile, re.M), \
                f'no make target {word}'


def check_command(command: str) -> None:
    """Raise AssertionError if the command names what does not exist."""
    words = split_command(command)
    if not words:
        return
    if words[0].endswith('python') and len(words) > 1:
        words = words[1:]
        if words[0] in ('-', '-m'):
            return  # a here-document or a module of another project
    elif words[0] == 'bash':
        words = words[1:]
    for word in words[1:]:
        if re.match(r'^configs/\S+\.py$', word):
            assert (REPO_ROOT / word).is_file(), f'no such config: {word}'
    if words[0].endswith('.py'):
        _check_python_tool(words)
    elif words[0].endswith('.sh'):
        _check_shell_tool(words)
    elif words[0] == 'make':
        _check_make(words)


@pytest.mark.parametrize('where,command', COMMANDS,
                         ids=[f'{w}:{c[:40]}' for w, c in COMMANDS])
def test_documented_command_exists(where, command):
    check_command(command)


def test_command_check_fails_on_a_wrong_flag():
    """The check itself: a flag no tool has, a missing config or target."""
    for wrong in ('python tools/infer.py CFG CKPT IMG --no-such-flag',
                  'python tools/benchmark.py frame DIR --models x',
                  'python tools/train.py configs/no_such_config.py',
                  'bash tools/dist_train.sh CFG 2 --no-such-flag',
                  'make no-such-target'):
        with pytest.raises(AssertionError):
            check_command(wrong)


@pytest.fixture(scope='module')
def sandbox(tmp_path_factory, demo_data_root) -> Path:
    """The repo's layout after ``make demo``, with a demo checkpoint of
    random weights, and ``work_dirs/deploy_ort`` made by the deployment
    doc's command."""
    root = tmp_path_factory.mktemp('docs')
    for name in ('configs', 'tools'):
        (root / name).symlink_to(REPO_ROOT / name)
    (root / 'data').mkdir()
    (root / 'data' / 'demo').symlink_to(demo_data_root)
    ckpt = root / 'work_dirs' / 'rgpnet_r18_demo' / 'iter_400.pth'
    ckpt.parent.mkdir(parents=True)
    demo_checkpoint(ckpt)
    deploy = next(c for w, c in COMMANDS if w.startswith('docs/deployment')
                  and '--work-dir work_dirs/deploy_ort ' in c + ' ')
    proc = subprocess.run(
        [sys.executable] + split_command(deploy)[1:], cwd=root,
        env=tool_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root


@pytest.mark.parametrize('block', PYTHON_BLOCKS,
                         ids=[b.where() for b in PYTHON_BLOCKS])
def test_python_block_runs(block, sandbox, tmp_path):
    """An example runs in the sandbox; a config fragment builds."""
    slow = [why for key, why in SLOW.items() if key in block.text]
    if slow:
        pytest.skip(f'{block.where()}: {slow[0]}')
    if _is_example(block.text):
        script = tmp_path / 'example.py'
        script.write_text(block.text)
        env = dict(tool_env(threads=2), MPLBACKEND='Agg')
        env.pop('PYTHONPATH')  # as a user runs it: the installed package
        proc = subprocess.run([sys.executable, str(script)], cwd=sandbox,
                              env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, \
            f'{block.where()}:\n{proc.stderr[-3000:]}'
    else:
        build_fragment(block.text)


def build_fragment(text: str) -> None:
    """Merge a config fragment into the paper's Cityscapes config and build
    what it names: the model, the custom hooks, the pipeline's
    transforms."""
    import rgpnet_mmseg  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import HOOKS, MODELS, TRANSFORMS

    init_default_scope('mmseg')
    fragment = {}
    exec(compile(text, 'fragment', 'exec'), {}, fragment)
    cfg = Config.fromfile(
        str(REPO_ROOT / 'configs' / 'rgpnet_r18_cityscapes.py'))
    cfg.merge_from_dict(
        {k: v for k, v in fragment.items() if k in ('model', )})
    if 'model' in fragment:
        MODELS.build(cfg.model)
    for hook in fragment.get('custom_hooks', []):
        HOOKS.build(hook)
    for step in fragment.get('train_pipeline', []):
        if isinstance(step, dict):
            assert TRANSFORMS.get(step['type']) is not None, step['type']
    for module in fragment.get('custom_imports', {}).get('imports', []):
        __import__(module)


def test_fragment_check_fails_on_an_unknown_type():
    with pytest.raises(KeyError):
        build_fragment("model = dict(decode_head=dict(type='NoSuchHead'))")
    with pytest.raises(Exception):
        build_fragment("custom_hooks = [dict(type='NoSuchHook')]")


def test_docs_blocks_found():
    """The reader finds the blocks (guards the parser, not the docs)."""
    assert len(PYTHON_BLOCKS) >= 10
    assert any('init_model' in b.text for b in PYTHON_BLOCKS)
    assert any(c.startswith('make demo') for _, c in COMMANDS)
    assert os.path.isdir(MMSEG_TOOLS)
