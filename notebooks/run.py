"""Execute notebooks from their jupytext scripts and save them with their
outputs (plots included), so they read well without running:

    python notebooks/run.py notebooks/0*_*.py

TensorFlow's C++ start-up lines are left out of the saved outputs.
"""

import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

NOISE = ("I0000", "WARNING: All log messages", "E0000", "W0000")


def run(path: Path) -> Path:
    notebook = jupytext.read(path)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["jupytext"] = {"formats": "ipynb,py:percent"}
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":
                text = "".join(
                    line
                    for line in output["text"].splitlines(True)
                    if not line.startswith(NOISE)
                )
                if not text.strip():
                    continue
                output["text"] = text
            kept.append(output)
        cell["outputs"] = kept
    out = path.with_suffix(".ipynb")
    nbformat.write(notebook, out)
    return out


if __name__ == "__main__":
    for name in sys.argv[1:]:
        start = time.perf_counter()
        print(run(Path(name)), f"{time.perf_counter() - start:.0f} s")
