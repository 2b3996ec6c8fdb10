"""The lesson's wheel (make wheel): the library and the six student notebooks, never a solution; installed
in a fresh environment outside the checkout, `get-lesson DIR` writes a lesson whose notebook 1 runs there.

The fresh environment sees this environment's third-party packages (PyTorch, Jupyter, ...) through
a .pth file, because installing them anew takes minutes (docs/maintainers.md); it does not see
this checkout's cifar_helpers or its editable install, and the test asserts where the kernel
imported cifar_helpers from.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

from cifar_helpers import classroom, handout

ROOT = Path(__file__).resolve().parent.parent
TEACHERS = ROOT / "notebooks"
NAMES = [path.name for path in sorted(TEACHERS.glob("[0-9][0-9]_*.ipynb"))]
INSIDE = "cifar_helpers/lesson_notebooks/"
WHERE = """import json, os, sys
def _where(result):  # after every cell: where cifar_helpers came from, and the notebook's data_dir
    if "cifar_helpers" in sys.modules:
        where = {"cifar_helpers": sys.modules["cifar_helpers"].__file__, "python": sys.executable,
                 "cwd": os.getcwd(), "data_dir": str(get_ipython().user_ns.get("data_dir"))}
        with open(os.environ["WHERE_FILE"], "w") as file:
            json.dump(where, file)
get_ipython().events.register("post_run_cell", _where)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "build_wheel.py"), "--outdir", str(out),
                             "--no-isolation"],  # offline: this environment's setuptools, no fresh one
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [path] = out.glob("*.whl")
    assert sorted(p.name for p in out.iterdir()) == [path.name], "no temporary file left beside the wheel"
    return path


@pytest.fixture
def pack(wheel, tmp_path):
    """The wheel's lesson_notebooks/, unpacked."""
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "unpacked", [n for n in archive.namelist() if n.startswith(INSIDE)])
    return tmp_path / "unpacked" / INSIDE


def solution_lines(cell):
    lines = cell.source.splitlines()
    start, end = lines.index("### BEGIN SOLUTION"), lines.index("### END SOLUTION")
    return [line for line in lines[start + 1:end] if line.strip()]


def test_the_wheel_holds_the_six_student_notebooks_and_no_solution(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert sorted(n for n in names if n.endswith(".ipynb")) == [INSIDE + name for name in NAMES]
        assert INSIDE + "handout.json" in names and "cifar_helpers/classroom.py" in names
        copies = {name: archive.read(INSIDE + name).decode() for name in NAMES}
    assert len(NAMES) == 6
    for name, text in copies.items():
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text, name
        teacher, student = nbformat.read(TEACHERS / name, as_version=4), nbformat.reads(text, as_version=4)
        assert len(student.cells) == len(teacher.cells)
        for t, s in zip(teacher.cells, student.cells):
            if t.metadata.get("nbgrader", {}).get("solution"):
                assert classroom.CODE_STUB in s.source
                for line in solution_lines(t):
                    assert line not in s.source.splitlines(), f"{name}: solution line in the wheel: {line!r}"
            elif s.cell_type == "code" and not classroom.is_exercise_cell(s):
                assert (s.source, s.outputs) == (t.source, t.outputs), "the lesson's outputs stay, for reading"


def test_the_check_that_setup_py_runs_needs_only_the_standard_library(pack):
    """python -S: no site-packages at all, as in a build environment without PyTorch or nbgrader."""
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('h', sys.argv[1]); "
            "h = importlib.util.module_from_spec(spec); spec.loader.exec_module(h); "
            "print(len(h.check(sys.argv[2], sys.argv[3])))")
    result = subprocess.run([sys.executable, "-S", "-c", code, str(ROOT / "cifar_helpers" / "handout.py"), str(pack),
                             str(TEACHERS)], capture_output=True, text=True)
    assert (result.returncode, result.stdout.strip()) == (0, "6"), result.stderr


def build_from(src, tmp_path):
    """python -m build --wheel on ``src``: (exit status, output, wheels built)."""
    result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                             str(tmp_path / "out"), str(src)], capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr, list((tmp_path / "out").glob("*.whl"))


def put_back_a_solution(copy, teacher):
    """Put the teacher's first solution line into the copy's answer cell, and record the copy's new hash."""
    nb = json.loads(copy.read_text())
    solution = next(c for c in nbformat.read(teacher, as_version=4).cells
                    if c.metadata.get("nbgrader", {}).get("solution"))
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") ==
                solution.metadata["nbgrader"]["grade_id"])
    cell["source"] = solution_lines(solution)[0] + "\n" + "".join(cell["source"])
    copy.write_text(json.dumps(nb, indent=1))


@pytest.mark.parametrize("damage", ["no copies", "a solution", "older than notebooks/"])
def test_a_build_without_the_lesson_or_with_a_solution_stops_and_writes_no_wheel(pack, tmp_path, damage):
    src = tmp_path / "src"
    for name in ("pyproject.toml", "setup.py", "README.md"):
        (src / name).parent.mkdir(exist_ok=True)
        shutil.copyfile(ROOT / name, src / name)
    shutil.copytree(ROOT / "cifar_helpers", src / "cifar_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(TEACHERS, src / "notebooks", ignore=shutil.ignore_patterns("runs", "data", ".*"))
    if damage != "no copies":
        shutil.copytree(pack, src / "build" / "lesson_notebooks")
    if damage == "a solution":
        put_back_a_solution(src / "build" / "lesson_notebooks" / NAMES[2], TEACHERS / NAMES[2])
        handout.record(src / "build" / "lesson_notebooks", src / "notebooks")  # hashes right: only the content is wrong
    elif damage == "older than notebooks/":
        (src / "notebooks" / NAMES[0]).write_text((TEACHERS / NAMES[0]).read_text().replace("Loading", "Reading"))
    status, output, wheels = build_from(src, tmp_path)
    assert status != 0 and wheels == []
    why = {"no copies": "handout.json is missing", "a solution": f"{NAMES[2]} keeps a solution",
           "older than notebooks/": "older"}[damage]
    assert "no wheel without the lesson" in output and why in output and "make wheel" in output, output[-2000:]


def one_line(err, *words):
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return all(word in err for word in words)


def get_lesson(capsys, *args):
    status = classroom.main(["get-lesson", *map(str, args)])
    return (status, *capsys.readouterr())


def test_get_lesson_replaces_a_notebook_a_student_changed_only_with_force(pack, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(handout, "PACKED", pack)
    lesson = tmp_path / "lesson" / "notebooks"
    status, out, err = get_lesson(capsys, tmp_path / "lesson")
    assert (status, err) == (0, "") and f"jupyter lab {lesson}" in out
    assert {p.name: p.read_bytes() for p in lesson.iterdir()} == {n: (pack / n).read_bytes() for n in NAMES}
    assert get_lesson(capsys, tmp_path / "lesson")[0] == 0, "unchanged copies are replaced"
    nb = nbformat.read(lesson / NAMES[1], as_version=4)
    nb.cells[0].source = "a student's notes"
    nbformat.write(nb, lesson / NAMES[1])
    before = {p.name: p.read_bytes() for p in lesson.iterdir()}
    status, _, err = get_lesson(capsys, tmp_path / "lesson")
    assert status == 2 and one_line(err, NAMES[1], "--force")
    assert {p.name: p.read_bytes() for p in lesson.iterdir()} == before, "nothing written"
    assert get_lesson(capsys, tmp_path / "lesson", "--force")[0] == 0
    assert (lesson / NAMES[1]).read_bytes() == (pack / NAMES[1]).read_bytes()


@pytest.mark.parametrize("damage", ["changed", "no record"])
def test_a_damaged_installation_is_one_line_and_writes_nothing(pack, tmp_path, capsys, monkeypatch, damage):
    monkeypatch.setattr(handout, "PACKED", pack)
    if damage == "changed":
        (pack / NAMES[3]).write_text((pack / NAMES[3]).read_text().replace("# YOUR CODE HERE", "x = 1", 1))
    else:
        (pack / "handout.json").unlink()
    status, out, err = get_lesson(capsys, tmp_path / "lesson")
    assert (status, out) == (1, "") and one_line(err, NAMES[3] if damage == "changed" else "handout.json", "again")
    assert not (tmp_path / "lesson").exists()


def test_in_a_checkout_get_lesson_makes_the_same_copies_from_notebooks(pack, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(handout, "PACKED", tmp_path / "none")  # as in an editable install
    assert get_lesson(capsys, tmp_path / "lesson")[0] == 0
    written = tmp_path / "lesson" / "notebooks"
    assert {p.name: p.read_bytes() for p in written.iterdir()} == {n: (pack / n).read_bytes() for n in NAMES}
    before = {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")}
    status, _, err = get_lesson(capsys, ROOT)
    assert status == 2 and one_line(err, f"DIR {ROOT} is the lesson's own checkout", "cifar10-lesson")
    assert {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")} == before


def fresh_environment(folder):
    """A virtual environment in ``folder`` that sees this one's third-party packages, not cifar_helpers."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    shared = folder / "shared-packages"
    shared.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(("cifar_helpers", "__editable__")) and entry.suffix != ".pth":
            (shared / entry.name).symlink_to(entry)
    [site] = (folder / "lib").glob("python3*/site-packages")
    (site / "shared-packages.pth").write_text(f"{shared}\n")  # appended to sys.path, after site-packages
    kernels = folder / "share" / "jupyter" / "kernels" / "python3"  # as ipykernel's own installation writes it
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({"argv": ["python", "-m", "ipykernel_launcher", "-f",
                                                              "{connection_file}"], "language": "python",
                                                     "display_name": "Python 3 (ipykernel)"}))
    return folder / "bin" / "python", site


def test_a_fresh_environment_gets_the_lesson_from_the_wheel_and_runs_notebook_1(wheel, tmp_path):
    python, site = fresh_environment(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH")}
    env.update(PATH=f"{python.parent}{os.pathsep}{env['PATH']}", IPYTHONDIR=str(tmp_path / "ipython"),
               WHERE_FILE=str(tmp_path / "where.json"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               CIFAR_QUICK="1")  # the quick profile: synthetic data, no download
    (tmp_path / "ipython" / "profile_default" / "startup").mkdir(parents=True)
    (tmp_path / "ipython" / "profile_default" / "startup" / "where.py").write_text(WHERE)

    def run(*args, cwd=tmp_path):  # from outside the checkout
        result = subprocess.run([str(python), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        return result.stdout

    run("-m", "pip", "install", "--no-index", "--quiet", wheel)  # its dependencies: all there already
    out = run("-m", "cifar_helpers.classroom", "get-lesson", "lesson")
    assert out.splitlines()[-1] == "next: jupyter lab lesson/notebooks"
    assert sorted(p.name for p in (tmp_path / "lesson" / "notebooks").iterdir()) == NAMES
    run("-m", "papermill", "01_loading.ipynb", tmp_path / "01_run.ipynb", "--kernel", "python3", "--no-progress-bar",
        cwd=tmp_path / "lesson" / "notebooks")
    executed = nbformat.read(tmp_path / "01_run.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "QUICK PROFILE" in text
    marks = classroom.check_results(executed, nbformat.read(TEACHERS / NAMES[0], as_version=4))
    assert marks and set(marks.values()) == {"…"}, f"every check waits for an answer: {marks}"
    where = json.loads((tmp_path / "where.json").read_text())
    assert Path(where["cifar_helpers"]) == site / "cifar_helpers" / "__init__.py", where
    assert Path(where["python"]) == python, where
    assert (Path(where["cwd"]) / where["data_dir"]).resolve() == (tmp_path / "lesson" / "data").resolve(), where
