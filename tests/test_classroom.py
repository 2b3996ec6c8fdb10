"""Student copies (nbgrader's ClearSolutions over the teacher's notebooks) and the grade table."""

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
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
    marks = classroom.check_results(executed)
    assert marks and set(marks.values()) == {"…"}, marks


def test_grade_tabulates_the_checks_of_executed_notebooks(tmp_path):
    nb = nbformat.v4.new_notebook()
    for text in ("✓ Exercise 1.1: right.\n", "✗ Exercise 1.2: not yet. Hint: ...\n", "… Exercise 1.3: no answer yet\n"):
        cell = nbformat.v4.new_code_cell("check(...)")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        nb.cells.append(cell)
    nbformat.write(nb, tmp_path / "ada.ipynb")
    nb.cells = nb.cells[:1]  # a copy of notebook 1 that stopped (an error) after its first check
    nbformat.write(nb, tmp_path / "01_loading.ipynb")
    lines = classroom.grade([tmp_path / "ada.ipynb", tmp_path / "01_loading.ipynb"])
    assert re.split(r"\s+", lines[0].strip()) == ["notebook", "1.1", "1.2", "1.3", "1.4", "right"]
    assert re.split(r"\s+", lines[1].strip()) == [str(tmp_path / "ada.ipynb"), "✓", "✗", "…", "-", "1/4"]
    assert re.split(r"\s+", lines[2].strip()) == [str(tmp_path / "01_loading.ipynb"), "✓", "-", "-", "-", "1/4"], (
        "out of all four")


def test_grade_keeps_one_row_per_submission_and_reads_checks_that_raised(tmp_path):
    """nbgrader's submitted/<student>/<assignment>/ layout gives every student the same file name;
    under grading a check that is not right raises, and its line is in the error output."""
    printed = nbformat.v4.new_output("stream", name="stdout", text="✓ Exercise 3.1: right.\n")
    raised = nbformat.v4.new_output("error", ename="AssertionError", evalue="✗ Exercise 3.1: not yet. Hint: ...",
                                    traceback=[])
    for student, outputs in (("alice", [printed]), ("bob", [raised])):
        nb = nbformat.v4.new_notebook()
        nb.cells.append(nbformat.v4.new_code_cell('check("3.1", ...)'))
        nb.cells[0].outputs = outputs
        (tmp_path / student / "lesson").mkdir(parents=True)
        nbformat.write(nb, tmp_path / student / "lesson" / "03_model.ipynb")
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
