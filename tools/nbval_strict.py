"""Strict nbval over notebooks 01-05 on real CIFAR-10: every output compared but timings, speeds, addresses.

    python tools/nbval_strict.py [--data-dir ../shared/data]      (make nbval-strict)

For maintainers and CI. The notebooks run top to bottom as JupyterLab runs them (their default
parameters, the inline figure backend, the quick profile off) and each output must equal the
committed one after tests/nbval_strict.cfg has masked what cannot repeat. Real CIFAR-10 must be
in ./data; with --data-dir, a missing ./data becomes a link to that folder.

The numbers of a training run depend on the CPU and PyTorch as well as on the code:
tools/refresh_notebooks.py records them in each notebook's metadata. Where this machine differs,
notebooks 01-03 are still compared in full, 04-05 only in their tagged cells, and it says so.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from refresh_notebooks import decode_data, outputs_signature

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["01_loading", "02_visualization", "03_model", "04_training", "05_evaluation"]
TRAINED = {"04_training", "05_evaluation"}  # whose outputs come from training


def recorded_signature(name):
    return json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text()).get("metadata", {}).get(
        "cifar_helpers", {}).get("outputs_from")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="real CIFAR-10 to link as ./data when ./data is missing")
    args = parser.parse_args(argv)
    data = ROOT / "data"
    if not data.exists() and args.data_dir:
        if not Path(args.data_dir).is_dir():
            raise SystemExit(f"--data-dir {args.data_dir} is not a folder: give the folder that holds CIFAR-10.")
        data.symlink_to(Path(args.data_dir).resolve(), target_is_directory=True)
    if not data.exists():
        raise SystemExit("no ./data: put real CIFAR-10 there (or a link to it), or give --data-dir.")

    decode_data(data)  # the committed outputs come from a warm cache

    here = outputs_signature()
    strict = [name for name in NOTEBOOKS if name not in TRAINED or recorded_signature(name) == here]
    lax = [name for name in NOTEBOOKS if name not in strict]
    if lax:
        print(f"nbval-strict: {', '.join(lax)} carry outputs trained on {recorded_signature(lax[0])}; this machine "
              f"is {here}. Training results differ between them, so those notebooks are compared only in their "
              "tagged cells (tools/refresh_notebooks.py on this machine makes them comparable).", flush=True)
    env = {**os.environ, "CIFAR_QUICK": "0", "CIFAR_HEADLESS": "1",
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}  # figures as JupyterLab shows them
    codes = []
    for names, mode in ((strict, "--nbval"), (lax, "--nbval-lax")):
        if names:  # in lesson order within each group: 05 reads what 04 wrote
            command = [sys.executable, "-m", "pytest", mode, "--nbval-current-env", "--nbval-sanitize-with",
                       "tests/nbval_strict.cfg", "--nbval-cell-timeout", "3600", "-p", "no:cacheprovider",
                       "-o", "addopts=-ra",
                       *[f"notebooks/{name}.ipynb" for name in names]]
            codes.append(subprocess.run(command, cwd=ROOT, env=env).returncode)
    return next((code for code in codes if code), 0)


if __name__ == "__main__":
    sys.exit(main())
