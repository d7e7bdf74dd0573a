"""The course notebooks of docs/notebooks/ run from top to bottom, as a learner runs them, and
are committed with their outputs (so they read on a code host without running)."""
import shutil
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip(
    "nbformat", reason="the notebooks need Jupyter's pieces: pip install -e '.[notebooks]'")
nbclient = pytest.importorskip(
    "nbclient", reason="the notebooks need Jupyter's pieces: pip install -e '.[notebooks]'")
pytest.importorskip(
    "ipykernel", reason="the notebooks need a kernel: pip install -e '.[notebooks]' (ipykernel)")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "docs" / "notebooks").glob("*.ipynb"))


def test_there_are_the_two_course_notebooks():
    assert {p.name for p in NOTEBOOKS} == {"conv1d_sprint.ipynb", "your_own_op.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_with_its_outputs(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert cells and all(c.execution_count for c in cells), f"{path.name}: run it before commit"
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path, tmp_path, record_property):
    """Executed afresh by a Jupyter kernel of this interpreter (nbclient starts `python3`,
    which jupyter_client runs with sys.executable), in a scratch folder."""
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    nb = nbformat.read(copy, as_version=4)
    start = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    record_property("seconds", round(time.perf_counter() - start, 1))  # reported, not gated
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"
