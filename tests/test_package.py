"""The package as users install it. Every other test runs on the editable install, which reads
the source tree directly and so cannot notice a module left out of the wheel: these build the
wheel and look inside it. (.ci/run goes further: it installs the wheel into a fresh virtual
environment and trains from another folder.)"""
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "tinygrad1d")  # what a build reads


def setuptools_version() -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in version("setuptools").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return ()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built offline (no build isolation, no index) from a copy of the sources."""
    # setuptools builds wheels by itself from 70.1 on; older ones need the `wheel` package too
    if importlib.util.find_spec("pip") is None or setuptools_version() < (70, 1):
        pytest.skip("building a wheel offline needs pip and setuptools>=70.1 in this "
                    "environment; both come with README's install, pip install -e \".[test]\"")
    tmp = tmp_path_factory.mktemp("wheel")
    (tmp / "src").mkdir()
    # A copy, not the checkout: setuptools packs whatever an earlier build left in build/lib,
    # which could hide a module that discovery no longer finds.
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tmp / "src" / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, tmp / "src" / name)
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                          "--no-build-isolation", "--no-index", "--wheel-dir", str(tmp / "dist"),
                          str(tmp / "src")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"pip wheel failed on the sources:\n{run.stderr[-3000:]}"
    (built,) = (tmp / "dist").glob("tinygrad1d-*.whl")
    return built


def tree_modules() -> set[str]:
    """tinygrad1d/**/*.py of the source tree, as paths inside a wheel."""
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "tinygrad1d").rglob("*.py")
            if "__pycache__" not in p.parts}


def test_the_wheel_holds_every_module_of_the_source_tree(wheel):
    with zipfile.ZipFile(wheel) as z:
        packed = {n for n in z.namelist() if n.endswith(".py")}
        entry_points = next(z.read(n).decode() for n in z.namelist()
                            if n.endswith(".dist-info/entry_points.txt"))
    tree = tree_modules()
    assert not tree - packed, f"{wheel.name} lacks {sorted(tree - packed)}"
    assert packed == tree, f"{wheel.name} has modules not in the tree: {sorted(packed - tree)}"
    assert "tinygrad1d = tinygrad1d.app.cli:main" in entry_points  # the console command


def test_every_module_imports_from_the_wheel_alone(wheel, tmp_path):
    """Unpacked and first on the path, run from a folder without the sources: every module
    imports, and every one that did came from the wheel (an editable install of the checkout
    in this environment would otherwise quietly supply what the wheel lacks). __main__ is
    left out: importing it runs the command."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    names = sorted(p.relative_to(site).with_suffix("").as_posix().replace("/", ".")
                   .removesuffix(".__init__") for p in (site / "tinygrad1d").rglob("*.py"))
    names.remove("tinygrad1d.__main__")
    code = ("import importlib, sys\n"
            "for name in sys.argv[1:]:\n"
            "    importlib.import_module(name)\n"
            "for name, m in sorted(sys.modules.items()):\n"
            "    if name.split('.')[0] == 'tinygrad1d':\n"
            "        print(name, m.__file__)\n")
    run = subprocess.run([sys.executable, "-c", code, *names], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(site)})
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    assert set(names) <= set(loaded)
    outside = {name: f for name, f in loaded.items() if not Path(f).is_relative_to(site)}
    assert not outside, f"imported from outside {wheel.name}: {outside}"
