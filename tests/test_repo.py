"""Promises the repository makes about itself: README's commands, CI, the core's size."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_leads_with_the_main_job_and_the_test_command():
    main, tests = readme_commands()[:2]
    assert "pip install" in main and "pip install" in tests and "pytest" in tests


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == readme_commands()[1]
    assert "ruff check" in "\n".join(ci)


def test_core_stays_readable_in_one_sitting():
    """DESIGN.md's budget: tensor + ops + functional under about 1,200 non-blank lines."""
    core = ["tensor.py", "ops.py", "functional.py"]
    lines = sum(1 for f in core for line in (ROOT / "tinygrad1d" / f).read_text().splitlines()
                if line.strip())
    assert lines <= 1200, f"the core has {lines} non-blank lines"


def test_license_is_mit():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_readme_python_examples_run(tmp_path, monkeypatch):
    """The README's code is executed as written (in a scratch directory)."""
    import shutil

    import pytest
    blocks = re.findall(r"```python\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    if shutil.which("dot") is None:
        pytest.skip("the README renders a graph with Graphviz's dot (CI installs it)")
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        namespace: dict = {}
        exec(compile(code, "README.md", "exec"), namespace)
    assert (tmp_path / "graph.svg").stat().st_size > 0
