"""Student copies (nbgrader's ClearSolutions over the teacher's notebooks) and the grade table."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat

import cifar_helpers.core.files
import pytest

from cifar_helpers import classroom

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    result = subprocess.run([sys.executable, "-m", "cifar_helpers.classroom", "student-copies", str(out)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return out


def solution_lines(cell):
    lines = cell.source.splitlines()
    start, end = lines.index("### BEGIN SOLUTION"), lines.index("### END SOLUTION")
    return [line for line in lines[start + 1:end] if line.strip()]


def test_one_command_writes_a_copy_of_every_notebook(copies):
    assert sorted(p.name for p in copies.iterdir()) == [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("teacher_path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_student_copy_contains_a_solution_or_an_exercise_output(copies, teacher_path):
    teacher = nbformat.read(teacher_path, as_version=4)
    student = nbformat.read(copies / teacher_path.name, as_version=4)
    assert len(student.cells) == len(teacher.cells)
    text = (copies / teacher_path.name).read_text()
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    solutions = [c for c in teacher.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert solutions, "every notebook has exercises"
    for cell in solutions:
        copy = next(s for s in student.cells if s.metadata.get("nbgrader", {}).get("grade_id") ==
                    cell.metadata["nbgrader"]["grade_id"])
        assert classroom.CODE_STUB in copy.source
        for line in solution_lines(cell):
            assert line not in copy.source.splitlines(), f"solution line left in the copy: {line!r}"
    for t, s in zip(teacher.cells, student.cells):
        if s.cell_type != "code":
            continue
        if classroom.is_exercise_cell(s):
            assert s.outputs == [] and s.execution_count is None
        else:
            assert s.source == t.source and s.outputs == t.outputs, "the lesson's own outputs stay, for reading"


@pytest.mark.parametrize("name", ["03_model.ipynb"])
def test_a_student_copy_runs_and_every_check_waits_for_an_answer(copies, name, tmp_path):
    import papermill

    out = tmp_path / name
    papermill.execute_notebook(str(copies / name), str(out), cwd=str(ROOT / "notebooks"), kernel_name="python3",
                               progress_bar=False)
    executed = nbformat.read(out, as_version=4)
    marks = classroom.check_results(executed, nbformat.read(ROOT / "notebooks" / name, as_version=4))
    assert marks and set(marks.values()) == {"…"}, marks


def stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def submission(path, outputs=None, teacher=None):
    """Write a copy of the teacher's notebook of ``path``'s name to ``path``, with no exercise outputs
    but ``outputs[exercise]`` in the check cell of each exercise given; return the notebook."""
    nb = nbformat.read(teacher or ROOT / "notebooks" / path.name, as_version=4)
    for cell in nb.cells:
        if classroom.is_exercise_cell(cell):
            call = re.match(r'check\("(\d+\.\d+)"', cell.source)
            cell.outputs = (outputs or {}).get(call[1], []) if call else []
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return nb


def test_grade_tabulates_the_checks_of_executed_notebooks(tmp_path):
    ada, bo = tmp_path / "ada" / "01_loading.ipynb", tmp_path / "bo" / "01_loading.ipynb"
    submission(ada, {"1.1": [stream("✓ Exercise 1.1: right.\n")],
                     "1.2": [stream("✗ Exercise 1.2: not yet. Hint: ...\n")],
                     "1.3": [stream("… Exercise 1.3: no answer yet\n")]})
    submission(bo, {"1.1": [stream("✓ Exercise 1.1: right.\n")]})  # a copy that stopped after its first check
    lines = classroom.grade([ada, bo])
    assert re.split(r"\s+", lines[0].strip()) == ["notebook", "1.1", "1.2", "1.3", "1.4", "right"]
    assert re.split(r"\s+", lines[1].strip()) == [str(ada), "✓", "✗", "…", "-", "1/4"]
    assert re.split(r"\s+", lines[2].strip()) == [str(bo), "✓", "-", "-", "-", "1/4"], "out of all four"
    assert len(lines) == 3, "no notes: every check cell is the teacher's"


def test_grade_keeps_one_row_per_submission_and_reads_checks_that_raised(tmp_path):
    """nbgrader's submitted/<student>/<assignment>/ layout gives every student the same file name;
    under grading a check that is not right raises, and its line is in the error output."""
    printed = stream("✓ Exercise 3.1: right.\n")
    raised = nbformat.v4.new_output("error", ename="AssertionError", evalue="✗ Exercise 3.1: not yet. Hint: ...",
                                    traceback=[])
    for student, outputs in (("alice", [printed]), ("bob", [raised])):
        submission(tmp_path / student / "lesson" / "03_model.ipynb", {"3.1": outputs})
    lines = classroom.grade(sorted(tmp_path.glob("*/lesson/03_model.ipynb")))
    rows = [re.split(r"\s+", line.strip()) for line in lines[1:]]
    assert [(row[0].split("/")[-3], row[1], row[-1]) for row in rows] == [("alice", "✓", "1/3"), ("bob", "✗", "0/3")]


@pytest.mark.parametrize("teacher_path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_check_cell_of_a_student_copy_uses_only_names_that_cells_before_it_define(copies, teacher_path):
    """A name only the removed solution defined would make the check cell a NameError, and stop Run All."""
    import ast
    import builtins

    defined = set(dir(builtins))
    for cell in nbformat.read(copies / teacher_path.name, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        code = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        tree = ast.parse("\n".join(code))
        if cell.metadata.get("nbgrader", {}).get("grade"):
            used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            assert used <= defined, f"{cell.source.strip()} uses {sorted(used - defined)}, defined only in a solution"
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                defined |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                defined.add(node.name)


def test_a_solution_marker_outside_a_solution_cell_is_refused():
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"language": "python", "name": "python3"}
    nb.cells.append(nbformat.v4.new_code_cell("x = 1\n### BEGIN SOLUTION\nx = 2\n### END SOLUTION"))
    with pytest.raises(RuntimeError, match="non-solution cell"):
        classroom.student_copy(nb)


def test_nbgrader_generates_a_students_copy_and_autogrades_right_and_missing_answers(tmp_path):
    """The guide's nbgrader route, end to end on notebook 3: generate_assignment, then autograde
    the teacher's copy (every check right) and the generated copy (no answers: every check 0)."""
    course = tmp_path / "course"
    (course / "source" / "lesson").mkdir(parents=True)
    notebook = ROOT / "notebooks" / "03_model.ipynb"
    (course / "source" / "lesson" / notebook.name).write_bytes(notebook.read_bytes())
    (course / "nbgrader_config.py").write_text(
        'c = get_config()\nc.CourseDirectory.course_id = "cifar"\n'
        'c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE"}\n')
    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs alembic, installed beside it
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}

    def nbgrader(*args):
        result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-3000:]

    nbgrader("generate_assignment", "lesson", "--force")
    released = course / "release" / "lesson" / notebook.name
    assert "### BEGIN SOLUTION" not in released.read_text()
    for who, source in (("teacher", notebook), ("student", released)):
        (course / "submitted" / who / "lesson").mkdir(parents=True)
        (course / "submitted" / who / "lesson" / notebook.name).write_bytes(source.read_bytes())
    nbgrader("autograde", "lesson", "--force")
    from nbgrader.api import Gradebook

    checks = sum(1 for c in nbformat.read(notebook, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("grade"))
    assert checks >= 3
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        teacher, student = (gradebook.find_submission("lesson", who) for who in ("teacher", "student"))
        assert teacher.max_score == checks and teacher.score == checks
        assert student.score == 0


# --- Nothing lost, nothing forged: small teacher's notebooks, the commands through main() ---

def exercise_notebook(number, lesson="print('lesson')"):
    """A teacher's notebook: a lesson cell with its output, an answer cell with a solution, a check cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"language": "python", "name": "python3", "display_name": "Python 3"}
    answer = nbformat.v4.new_code_cell(f"answer = None\n### BEGIN SOLUTION\nanswer = {number}\n### END SOLUTION")
    answer.metadata["nbgrader"] = {"grade": False, "grade_id": f"answer-{number}-1", "locked": False,
                                   "schema_version": 3, "solution": True, "task": False}
    check = nbformat.v4.new_code_cell(f'check("{number}.1", answer=answer)',
                                      outputs=[stream(f"✓ Exercise {number}.1: right.\n")])
    check.metadata["nbgrader"] = {"grade": True, "grade_id": f"check-{number}-1", "locked": True, "points": 1,
                                  "schema_version": 3, "solution": False, "task": False}
    nb.cells = [nbformat.v4.new_code_cell(lesson, outputs=[stream("lesson\n")]), answer, check]
    return nb


@pytest.fixture
def teacher(tmp_path):
    folder = tmp_path / "teacher"
    folder.mkdir()
    for number in (1, 2, 3):
        nbformat.write(exercise_notebook(number), folder / f"0{number}_topic.ipynb")
    return folder


def run(capsys, *args):
    """main(args): (exit status, stdout, stderr)."""
    try:
        status = classroom.main([str(a) for a in args])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped main()")
    out, err = capsys.readouterr()
    return status, out, err


def one_line(err, *words):
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err
    return True


def files(folder):
    """Every file in ``folder``, temporary ones included: {name: bytes}."""
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())} if Path(folder).exists() else {}


def set_source(path, index, source):
    nb = nbformat.read(path, as_version=4)
    nb.cells[index].source = source
    nbformat.write(nb, path)


def test_copies_carry_a_hash_of_their_sources_and_a_second_run_keeps_working(copies, capsys):
    """`make student` twice: each copy is unchanged since it was written, so it is replaced silently."""
    before = files(copies)
    for name in before:
        record = nbformat.read(copies / name, as_version=4).metadata["cifar_helpers"]["student_copy"]
        assert record["sha256"] == classroom.fingerprint(nbformat.read(copies / name, as_version=4))
    status, out, err = run(capsys, "student-copies", copies)
    assert (status, err) == (0, "") and out.count("wrote ") == len(NOTEBOOKS)
    assert files(copies) == before


def test_the_teachers_folder_is_refused_as_out(teacher, capsys):
    before = files(teacher)
    for out in (teacher, teacher / ".." / teacher.name):  # compared as resolved paths
        status, _, err = run(capsys, "student-copies", out, "--notebooks", teacher)
        assert status == 2 and one_line(err, "teacher's notebooks folder")
    assert files(teacher) == before


def test_a_notebook_with_solutions_is_never_replaced_even_with_force(teacher, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "02_topic.ipynb").write_bytes((teacher / "02_topic.ipynb").read_bytes())  # the teacher's, copied
    for force in ([], ["--force"]):
        status, _, err = run(capsys, "student-copies", out, "--notebooks", teacher, *force)
        assert status == 2 and one_line(err, "02_topic.ipynb", "solutions")
        assert files(out) == {"02_topic.ipynb": (teacher / "02_topic.ipynb").read_bytes()}, "nothing written"


def test_a_copy_a_student_changed_is_replaced_only_with_force(teacher, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(capsys, "student-copies", out, "--notebooks", teacher)[0] == 0
    set_source(out / "02_topic.ipynb", 1, "answer = 2  # a student's answer")
    (out / "03_topic.ipynb").write_text("not a notebook any more")
    before = files(out)
    status, _, err = run(capsys, "student-copies", out, "--notebooks", teacher)
    assert status == 2 and one_line(err, "02_topic.ipynb", "--force")
    assert files(out) == before
    set_source(out / "02_topic.ipynb", 1, nbformat.read(out / "01_topic.ipynb", 4).cells[1].source)
    status, _, err = run(capsys, "student-copies", out, "--notebooks", teacher)
    assert status == 2 and one_line(err, "03_topic.ipynb", "--force"), "an unreadable file is not replaced either"
    assert run(capsys, "student-copies", out, "--notebooks", teacher, "--force")[0] == 0
    assert "# YOUR CODE HERE" in nbformat.read(out / "03_topic.ipynb", 4).cells[1].source


def test_an_unchanged_copy_is_replaced_and_one_without_a_record_only_if_it_is_the_same(teacher, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(capsys, "student-copies", out, "--notebooks", teacher)[0] == 0
    set_source(teacher / "01_topic.ipynb", 0, "print('a new lesson')")  # the teacher edits the lesson
    status, _, err = run(capsys, "student-copies", out, "--notebooks", teacher)
    assert (status, err) == (0, "")
    assert nbformat.read(out / "01_topic.ipynb", 4).cells[0].source == "print('a new lesson')"
    nb = nbformat.read(out / "02_topic.ipynb", 4)  # a copy written before copies carried their hash
    del nb.metadata["cifar_helpers"]
    nbformat.write(nb, out / "02_topic.ipynb")
    assert run(capsys, "student-copies", out, "--notebooks", teacher)[0] == 0, "the same cells: replaced"
    assert "student_copy" in nbformat.read(out / "02_topic.ipynb", 4).metadata["cifar_helpers"]
    nb.cells[1].source = "answer = 2"
    nbformat.write(nb, out / "02_topic.ipynb")
    status, _, err = run(capsys, "student-copies", out, "--notebooks", teacher)
    assert status == 2 and one_line(err, "02_topic.ipynb", "--force")


def test_a_broken_solution_marker_writes_nothing(teacher, tmp_path, capsys):
    set_source(teacher / "03_topic.ipynb", 1, "answer = None\n### BEGIN SOLUTION\nanswer = 3")
    status, _, err = run(capsys, "student-copies", tmp_path / "out", "--notebooks", teacher)
    assert status == 2 and one_line(err, "03_topic.ipynb", "solution marker")
    assert not (tmp_path / "out").exists(), "no half set: notebooks 1 and 2 are not written either"


@pytest.mark.parametrize("problem", ["missing", "empty"])
def test_a_missing_or_empty_notebooks_folder_is_an_error(tmp_path, capsys, problem):
    if problem == "empty":
        (tmp_path / "teacher").mkdir()
        (tmp_path / "teacher" / "notes.ipynb").write_text("{}")  # not a numbered notebook
    status, _, err = run(capsys, "student-copies", tmp_path / "out", "--notebooks", tmp_path / "teacher")
    assert status == 2 and one_line(err, "--notebooks", str(tmp_path / "teacher"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", [None, "", "{not json", "[1]", "{}"],
                         ids=["missing", "empty", "text", "list", "dict"])
def test_a_notebook_that_is_missing_empty_or_not_json_is_one_line(teacher, tmp_path, capsys, content):
    bad = tmp_path / "ada" / "02_topic.ipynb"
    bad.parent.mkdir()
    if content is not None:
        bad.write_text(content)
    status, out, err = run(capsys, "grade", bad, "--notebooks", teacher)
    assert (status, out) == (2, "") and one_line(err, str(bad))
    if content is not None:  # the same file among the teacher's notebooks
        (teacher / "02_topic.ipynb").write_text(content)
        status, _, err = run(capsys, "student-copies", tmp_path / "out", "--notebooks", teacher)
        assert status == 2 and one_line(err, "02_topic.ipynb") and not (tmp_path / "out").exists()


def test_a_file_in_the_way_of_out_is_one_line(teacher, tmp_path, capsys):
    (tmp_path / "out").write_text("a file")
    status, _, err = run(capsys, "student-copies", tmp_path / "out", "--notebooks", teacher)
    assert status == 1 and one_line(err, "out")
    assert (tmp_path / "out").read_text() == "a file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_out_folder_is_one_line(teacher, tmp_path, capsys):
    (tmp_path / "out").mkdir(mode=0o555)
    status, _, err = run(capsys, "student-copies", tmp_path / "out", "--notebooks", teacher)
    assert status == 1 and one_line(err, "Permission denied") and files(tmp_path / "out") == {}


def fail_on_call(number, error):
    """A stand-in that raises ``error`` on its ``number``-th call and does the real thing before."""
    calls = []

    def wrap(real):
        def stand_in(*args, **kwargs):
            calls.append(1)
            if len(calls) == number:
                raise error
            return real(*args, **kwargs)
        return stand_in
    return wrap


@pytest.mark.parametrize("where, error, status", [
    ("fsync", OSError(28, "No space left on device"), 1),  # the disk fills while notebook 2 is written
    ("open", PermissionError(13, "Permission denied"), 1),  # a read-only folder (root ignores chmod)
    ("replace", KeyboardInterrupt(), 130),  # Ctrl-C
], ids=["full-disk", "read-only", "ctrl-c"])
def test_a_failed_write_leaves_every_notebook_whole_and_no_temporary_file(teacher, tmp_path, capsys, monkeypatch,
                                                                          where, error, status):
    out = tmp_path / "out"
    assert run(capsys, "student-copies", out, "--notebooks", teacher)[0] == 0
    for path in teacher.iterdir():
        set_source(path, 0, "print('a new lesson')")  # so that every new copy differs from the old
    before = files(out)
    wrap = fail_on_call(2, error)
    if where == "open":
        monkeypatch.setattr(cifar_helpers.core.files, "open", wrap(open), raising=False)
    else:
        monkeypatch.setattr(os, where, wrap(getattr(os, where)))
    code, _, err = run(capsys, "student-copies", out, "--notebooks", teacher)
    assert code == status and one_line(err)
    if status == 1:
        assert one_line(err, "02_topic.ipynb", error.strerror, "1 of 3")
    else:
        assert one_line(err, "interrupted")
    after = files(out)
    assert sorted(after) == sorted(before), "no temporary file left"
    assert nbformat.read(out / "01_topic.ipynb", 4).cells[0].source == "print('a new lesson')"
    assert after["02_topic.ipynb"] == before["02_topic.ipynb"] and after["03_topic.ipynb"] == before["03_topic.ipynb"]


def test_ctrl_c_while_grading_is_one_line(teacher, tmp_path, capsys, monkeypatch):
    submission(tmp_path / "ada" / "01_topic.ipynb", teacher=teacher / "01_topic.ipynb")
    monkeypatch.setattr(classroom, "check_results", fail_on_call(1, KeyboardInterrupt())(classroom.check_results))
    status, out, err = run(capsys, "grade", tmp_path / "ada" / "01_topic.ipynb", "--notebooks", teacher)
    assert (status, out) == (130, "") and one_line(err, "interrupted")


def test_grade_counts_only_the_verdict_a_check_cell_wrote_for_its_own_exercise(tmp_path, capsys):
    path = tmp_path / "ada" / "04_training.ipynb"
    nb = submission(path, {"4.1": [stream("✓ Exercise 4.2: right.\n")],  # another exercise's line
                           "4.3": [nbformat.v4.new_output("error", ename="NameError", traceback=[],
                                                          evalue="✓ Exercise 4.3: right.")]})
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "answer-4-1")
    answer.outputs = [stream("✓ Exercise 4.1: right.\n")]  # the student's own print("✓ Exercise 4.1: right.")
    own = nbformat.v4.new_code_cell('print("✓ Exercise 4.4: right.")', outputs=[stream("✓ Exercise 4.4: right.\n")])
    nb.cells.append(own)
    nbformat.write(nb, path)
    status, out, err = run(capsys, "grade", path)
    assert (status, err) == (0, "")
    assert re.split(r"\s+", out.splitlines()[1].strip()) == [str(path), "-", "-", "-", "-", "-", "-", "0/6"]


def test_an_edited_unlocked_or_missing_check_cell_counts_as_not_run_and_is_noted(tmp_path, capsys):
    path = tmp_path / "ada" / "04_training.ipynb"
    right = {e: [stream(f"✓ Exercise {e}: right.\n")] for e in ("4.1", "4.2", "4.3", "4.4")}
    nb = submission(path, right)
    checks = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    checks["check-4-1"].source = 'check("4.1", histories=histories, worst_rate=0.1)'  # edited
    checks["check-4-2"].metadata["nbgrader"]["locked"] = False
    nb.cells.remove(checks["check-4-3"])
    checks["check-4-4"].id = "renumbered"  # found by its grade_id: still counts
    nbformat.write(nb, path)
    status, out, err = run(capsys, "grade", path)
    lines = out.splitlines()
    assert (status, err) == (0, "")
    assert re.split(r"\s+", lines[1].strip()) == [str(path), "!", "!", "!", "✓", "-", "-", "1/6"]
    assert lines[2:] == [f"! {path}: check cell 4.1, 4.2, 4.3 missing or edited, counted as not run"]


def test_grade_needs_a_teachers_notebook_of_the_same_name(teacher, tmp_path):
    path = tmp_path / "ada.ipynb"
    nbformat.write(exercise_notebook(1), path)
    result = subprocess.run([sys.executable, "-m", "cifar_helpers.classroom", "grade", str(path), "--notebooks",
                             str(teacher)], capture_output=True, text=True, cwd=ROOT)
    assert (result.returncode, result.stdout) == (2, "") and one_line(result.stderr, "ada.ipynb", "--notebooks")
