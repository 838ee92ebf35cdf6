"""Every notebook runs top to bottom, and matches its paired script."""

import os
from pathlib import Path

import pytest

nbclient = pytest.importorskip(
    "nbclient", reason="the notebooks extra: pip install -e .[notebooks]"
)
jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("[0-9][0-9]_*.ipynb"))


def test_there_are_seven_notebooks_each_with_its_script():
    assert len(NOTEBOOKS) == 7
    for notebook in NOTEBOOKS:
        assert notebook.with_suffix(".py").is_file(), notebook


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_matches_its_script(path, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    script = jupytext.read(path.with_suffix(".py"))

    def code(nb):
        return [c.source.strip() for c in nb.cells if c.cell_type == "code"]

    assert code(notebook) == code(script), (
        f"{path.name} and its .py differ: run `jupytext --sync` (or "
        "notebooks/run.py) after editing"
    )
    monkeypatch.setenv("NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(FOLDER)}},
    )
    client.execute()  # raises CellExecutionError on any error cell
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    assert os.listdir(tmp_path) is not None
