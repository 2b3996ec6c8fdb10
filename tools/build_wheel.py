"""Build the lesson's wheel: the library and the students' copies of the six notebooks (make wheel).

    python tools/build_wheel.py [--outdir dist] [--no-isolation]

For teachers and maintainers. It copies the sources into a temporary folder, writes the student
copies there with nbgrader (as `python -m cifar_helpers.classroom student-copies` does) into
build/lesson_notebooks/ with their record (cifar_helpers/handout.py), and runs `python -m build
--wheel` on that folder: setup.py packs the copies into cifar_helpers/lesson_notebooks/ after checking
them. It then opens the wheel, checks its notebooks again against notebooks/, and only then puts it
into --outdir. A student installs it and runs `python -m cifar_helpers.classroom get-lesson DIR`.
A clean copy of the sources, not the checkout, is built, so that no earlier build's files (build/lib)
slip into the wheel and the checkout gets no build/ or egg-info written by the build.
--no-isolation builds with this environment's setuptools instead of a fresh one (faster, offline).
Exit status: 0 built, 2 the notebooks cannot be copied, 1 the build or its check failed, 130 Ctrl-C.
"""

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from cifar_helpers import classroom, handout

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["pyproject.toml", "setup.py", "README.md", "cifar_helpers"]
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", handout.PACKED.name)


def copy_sources(src: Path) -> None:
    """What the build reads: the project's files and the teacher's notebooks (which never enter the wheel)."""
    src.mkdir(parents=True)
    for name in SOURCES + [p.name for p in ROOT.glob("LICEN[CS]E*")]:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=SKIP)
        else:
            shutil.copyfile(ROOT / name, src / name)
    (src / "notebooks").mkdir()
    for path in handout.numbered(ROOT / "notebooks"):
        shutil.copyfile(path, src / "notebooks" / path.name)


def check_wheel(wheel: Path, work: Path) -> list[str]:
    """The names of the notebooks in ``wheel``, after checking them against notebooks/ (ValueError if not right)."""
    inside = f"cifar_helpers/{handout.PACKED.name}/"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        stray = [n for n in names if n.endswith(".ipynb") and not n.startswith(inside)]
        if stray:
            raise ValueError(f"{wheel.name} holds notebooks outside {inside}: {stray}")
        archive.extractall(work, [n for n in names if n.startswith(inside)])
    return [path.name for path in handout.check(work / inside, ROOT / "notebooks")]


def build(outdir: Path, isolation=True) -> Path:
    with tempfile.TemporaryDirectory(prefix="cifar-wheel-") as tmp:
        src, built = Path(tmp) / "src", Path(tmp) / "dist"
        copy_sources(src)
        classroom.write_student_copies(src / "build" / handout.PACKED.name, src / "notebooks")
        handout.record(src / "build" / handout.PACKED.name, src / "notebooks")
        command = [sys.executable, "-m", "build", "--wheel", "--outdir", str(built), str(src)]
        result = subprocess.run(command + ([] if isolation else ["--no-isolation"]), capture_output=True, text=True)
        if result.returncode != 0:  # its last lines say why
            print((result.stdout + result.stderr)[-4000:], file=sys.stderr)
            raise classroom.Stop("python -m build failed (its reason is above)", 1)
        [wheel] = built.glob("*.whl")
        try:
            names = check_wheel(wheel, Path(tmp) / "check")
        except ValueError as error:
            raise classroom.Stop(f"the wheel is not right, so it is not kept: {error}", 1) from None
        outdir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheel, outdir / f".{wheel.name}.tmp")
        (outdir / f".{wheel.name}.tmp").replace(outdir / wheel.name)
    print(f"built {outdir / wheel.name}: cifar_helpers and {len(names)} student notebooks ({', '.join(names)})")
    return outdir / wheel.name


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="tools/build_wheel.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", default=str(ROOT / "dist"), help="where the wheel goes (default: dist/)")
    parser.add_argument("--no-isolation", action="store_true", help="build with this environment's setuptools")
    args = parser.parse_args(argv)
    try:
        if importlib.util.find_spec("build") is None:
            raise classroom.Stop(f"no `build` package in {sys.prefix}: pip install build (make install does)", 1)
        build(Path(args.outdir), isolation=not args.no_isolation)
    except classroom.Stop as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted; no wheel was written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
