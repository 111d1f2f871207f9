"""notebooks/quickstart.ipynb runs offline from top to bottom (nbclient), and is stored without outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


def python3_kernel(tmp_path: Path, monkeypatch) -> str:
    """A kernel named python3 that runs *this* interpreter (the venv with the project's requirements).

    ipykernel's wheel installs one into the venv; if it is missing, install it there (``--sys-prefix``). A
    python3 kernel elsewhere (a user-level one pointing at another Python) would shadow it, so when the one
    found does not run this interpreter, a spec pointing at ``sys.executable`` is put first on JUPYTER_PATH.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
                       check=True, capture_output=True)
        spec = KernelSpecManager().get_kernel_spec("python3")
    # jupyter_client runs a bare "python" as sys.executable; anything else must be this interpreter.
    runs_us = spec.argv[0] in ("python", "python3") or Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()
    if not runs_us:
        kernel_dir = tmp_path / "jupyter" / "kernels" / "python3"
        kernel_dir.mkdir(parents=True)
        (kernel_dir / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (this venv)", "language": "python",
        }))
        monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "python3"


def test_quickstart_runs_offline_top_to_bottom(clean_env, tmp_path):
    from nbclient import NotebookClient

    # The kernel inherits this environment: no AWS credentials (clean_env), the emulator, a headless backend.
    clean_env.setenv("CHAINS_BACKEND", "local")
    clean_env.setenv("MPLBACKEND", "Agg")
    clean_env.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    kernel = python3_kernel(tmp_path, clean_env)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel, timeout=300, resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError with the cell and traceback on any failure

    texts, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", out
            if out["output_type"] == "stream":
                texts.append(out["text"])
            images += "image/png" in out.get("data", {})
    text = "".join(texts)
    assert "qa " in text and "agent" in text and "compare" in text  # the chain list
    assert "why:" in text and "[bedrock_local" in text  # an answer and its route reason, offline
    assert "streamed model chunks:" in text and "streamed model chunks: 0" not in text
    assert images == 1  # the latency/cost bar chart
    assert "chunks: 1 " not in text  # the long document needed map-reduce
    assert "No AWS credentials found" in text  # the real-Bedrock cell did nothing


def test_the_notebook_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip outputs before committing"
