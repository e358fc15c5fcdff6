"""The package as mim sees it: ``mim search rgpnet-mmseg`` lists the model
index's configs, from a built wheel (what ``pip install`` gives) and from
this development install."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from .docs_blocks import REPO_ROOT

MIM = Path(sys.executable).parent / 'mim'


def metafile_models() -> dict:
    """Config id -> config path, read from the model index's metafiles."""
    index = yaml.safe_load((REPO_ROOT / 'model-index.yml').read_text())
    models = {}
    for meta in index['Import']:
        for m in yaml.safe_load((REPO_ROOT / meta).read_text())['Models']:
            models[m['Name'].lower()] = m['Config']
    return models


def searched_ids(output: str) -> set:
    return {line.split(':', 1)[1].strip() for line in output.splitlines()
            if line.startswith('config id:')}


def mim_search(cwd: Path, extra_path: str = '', module: bool = False):
    cmd = [sys.executable, '-m', 'mim'] if module else [str(MIM)]
    env = {'PATH': '/usr/bin:/bin', 'HOME': str(Path.home())}
    if extra_path:
        env['PYTHONPATH'] = extra_path
    proc = subprocess.run(cmd + ['search', 'rgpnet-mmseg'], cwd=cwd,
                          env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return searched_ids(proc.stdout)


@pytest.fixture(scope='module')
def installed_wheel(tmp_path_factory) -> Path:
    """The package built as a wheel and installed into a folder of its
    own (``pip install --target``)."""
    root = tmp_path_factory.mktemp('wheel')
    source = root / 'source'  # the files git has (no stale build/ dir)
    files = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others',
         '--exclude-standard'],
        cwd=REPO_ROOT, check=True, capture_output=True).stdout.split(b'\0')
    for name in filter(None, (f.decode() for f in files)):
        src, dst = REPO_ROOT / name, source / name
        if src.is_symlink() or src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst, follow_symlinks=False)
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check']
    subprocess.run(pip + ['wheel', '-q', '--no-deps', '--no-build-isolation',
                          str(source), '-w', str(root / 'dist')],
                   check=True, capture_output=True, timeout=600)
    wheel = next((root / 'dist').glob('rgpnet_mmseg-*.whl'))
    subprocess.run(pip + ['install', '-q', '--no-deps', '--target',
                          str(root / 'site'), str(wheel)],
                   check=True, capture_output=True, timeout=600)
    return root


def test_wheel_carries_the_model_index(installed_wheel):
    wheel = next((installed_wheel / 'dist').glob('*.whl'))
    names = set(zipfile.ZipFile(wheel).namelist())
    mim = installed_wheel / 'site' / 'rgpnet_mmseg' / '.mim'
    assert 'rgpnet_mmseg/.mim/model-index.yml' in names
    for config in metafile_models().values():
        assert f'rgpnet_mmseg/.mim/{config}' in names, config
        assert (mim / config).is_file() and not (mim / config).is_symlink()
    assert 'rgpnet_mmseg/.mim/tools/train.py' in names


def test_mim_search_lists_the_configs_of_an_installed_wheel(
        installed_wheel, tmp_path):
    expected = set(metafile_models())
    assert len(expected) >= 16
    assert mim_search(tmp_path, str(installed_wheel / 'site')) == expected


def test_mim_search_in_the_development_install():
    """An editable install: mim finds the package from the repo root."""
    assert mim_search(REPO_ROOT, module=True) == set(metafile_models())
