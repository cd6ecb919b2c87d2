"""The notebooks run offline from top to bottom (public API only), as a reader runs them.

Each is executed by nbclient with the ``python3`` kernel from the ``notebooks/`` folder, the
working directory Jupyter gives it; a cell that raises fails the test. The executed notebook
must show its figures inline and no progress-bar widget warning.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))

#: Text that tqdm writes when it cannot draw a Jupyter widget (ipywidgets missing).
WIDGET_WARNINGS = ("IProgress not found", "TqdmWarning", "TqdmExperimentalWarning", "ipywidgets")


def _build(folder: Path) -> None:
    """Run notebooks/_build.py into ``folder`` (runpy: no __pycache__ left in notebooks/)."""
    runpy.run_path(str(FOLDER / "_build.py"), run_name="_notebook_build")["write"](folder)


def _text(output: nbformat.NotebookNode) -> str:
    """Everything an output shows as text (streams, results, errors)."""
    parts = [output.get("text", ""), output.get("evalue", ""), *output.get("traceback", [])]
    data = output.get("data", {})
    parts += [str(data.get(k, "")) for k in ("text/plain", "text/html")]
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def test_notebooks_are_stored_without_outputs():
    assert len(NOTEBOOKS) == 3
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        assert book.metadata["kernelspec"]["name"] == "python3", path.name
        for cell in book.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


def test_the_stored_notebooks_are_what_the_builder_writes(tmp_path):
    """Edit notebooks/_build.py and run it; the .ipynb files are never edited by hand."""
    _build(tmp_path)
    built = sorted(p.name for p in tmp_path.glob("*.ipynb"))
    assert built == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        stored = json.loads(path.read_text(encoding="utf-8"))
        fresh = json.loads((tmp_path / path.name).read_text(encoding="utf-8"))
        assert stored == fresh, f"{path.name} differs from _build.py: python notebooks/_build.py"


def test_the_data_come_through_the_data_setting():
    """Notebooks find the data as the library does (networks.datasets), not by os.environ."""
    for path in NOTEBOOKS:
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        assert "os.environ" not in source and "getenv" not in source, path.name
    sioux = nbformat.read(FOLDER / "01_sioux_falls.ipynb", as_version=4)
    assert "data_dir()" in "\n".join(c.source for c in sioux.cells)


def test_the_batch_notebook_stops_when_scenarios_fail(data_dir, monkeypatch, tmp_path):
    """Its first cell raises when the batch reports failed scenarios (no plot of the rest)."""
    import optimizer

    book = nbformat.read(FOLDER / "03_batch_results.ipynb", as_version=4)
    cell = next(c for c in book.cells if c.cell_type == "code" and "run_batch" in c.source)
    code = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))

    def run_batch(cases, out, **kw):
        return {"scenarios": len(cases), "ran": len(cases), "skipped": 0, "errors": 3}

    monkeypatch.setattr(optimizer, "run_batch", run_batch)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"3 of 8 scenarios failed; see .*results\.csv"):
        exec(compile(code, "03_batch_results.ipynb", "exec"), {})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
@pytest.mark.slow
def test_notebook_runs(path, data_dir, tmp_path, monkeypatch):
    # downloads would land in the cache: an empty one shows the notebook needs none
    monkeypatch.setenv("ROADOPT_CACHE_DIR", str(tmp_path / "cache"))
    before = sorted(p.name for p in FOLDER.iterdir())
    book = nbformat.read(path, as_version=4)
    NotebookClient(
        book,
        timeout=600,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(FOLDER)}},
    ).execute()
    # execute() raises at the first failing cell; past it, every code cell ran
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    # the notebook shows what it computed: its figures are inline in the outputs
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} shows no figure"
    shown = "\n".join(_text(o) for o in outputs)
    for warning in WIDGET_WARNINGS:
        assert warning not in shown, f"{path.name} shows a progress-bar warning: {warning}"
    # a reader's run leaves the repository as it was (outputs go to temporary folders)
    assert sorted(p.name for p in FOLDER.iterdir()) == before
