"""Re-execute the committed notebooks in place with their own default parameters, then tidy them.

    python tools/refresh_notebooks.py [NN ...]

For maintainers: this produces the outputs students see when they open the notebooks. It runs
each notebook top to bottom in notebooks/, as JupyterLab would, with its default parameters,
headless, with the quick profile off, and then removes what
should not be committed: widget state, papermill and timing metadata. It records what the numbers
depend on (CPU, PyTorch, threads) in the notebook's metadata, for tools/nbval_strict.py. Real
CIFAR-10 must be in ./data (a copy, a link to one, or torchvision's download).
"""

import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from cifar_helpers.lesson.kernels import kernel_runtime_folder, local_kernel_manager

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def outputs_signature() -> dict:
    """What decides the lesson's numbers besides its code and data: the CPU, PyTorch and its threads.

    Training on another kind of CPU rounds differently, and the differences grow epoch by epoch;
    tools/nbval_strict.py compares every output only where this signature matches the notebook's.
    """
    import platform

    import torch

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": model, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "threads": torch.get_num_threads()}


def decode_data(data) -> None:
    """Load both splits once, so a JPEG copy is decoded now: "Decoding ..." is no lesson output."""
    from cifar_helpers import load_cifar10

    for split in ("train", "test"):
        load_cifar10(split, root=str(data))


def tidy(nb):
    """Drop widget state and run metadata; keep outputs and execution counts."""
    nb.metadata.pop("widgets", None)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if cell.cell_type == "code":
            for output in cell.outputs:
                output.get("metadata", {}).pop("application/vnd.jupyter.widget-view+json", None)
                output.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
    return nb


def main(only):
    os.environ.pop("CIFAR_QUICK", None)
    os.environ["CIFAR_HEADLESS"] = "1"
    decode_data(NOTEBOOKS.parent / "data")
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if only and path.name[:2] not in only:
            continue
        print(f"executing {path.name} ...", flush=True)
        nb = nbformat.read(path, as_version=4)
        started = time.perf_counter()
        with kernel_runtime_folder():
            NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}},
                           record_timing=False, kernel_manager_class=local_kernel_manager()).execute()
        nb.metadata["cifar_helpers"] = {"outputs_from": outputs_signature()}
        nbformat.write(tidy(nb), path)
        print(f"  {path.name}: {path.stat().st_size / 1e3:.0f} kB, {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
