"""Classroom commands: student copies of the notebooks, and a table of the exercise checks.

    python -m cifar_helpers.classroom student-copies OUT      (make student)
    python -m cifar_helpers.classroom grade NOTEBOOK...       a table of ✓ / ✗ / … per exercise

The notebooks in notebooks/ are the teacher's version. Their exercises use nbgrader's markup:
the answer cell is an nbgrader solution cell whose solution sits between "### BEGIN SOLUTION"
and "### END SOLUTION", and the check cell after it is a locked nbgrader grade cell. A student
copy is made with nbgrader's own ClearSolutions preprocessor (each solution becomes
"# YOUR CODE HERE", so Run All still runs and each check says "no answer yet"), and the exercise
cells lose their outputs; the lesson's own outputs stay, for reading. The same notebooks also
work with nbgrader's full pipeline (generate_assignment, autograde): see docs/teachers_guide.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CODE_STUB = "# YOUR CODE HERE"
CHECK_LINE = re.compile(r"^(✓|✗|…) Exercise (\d+\.\d+):", re.M)


def is_exercise_cell(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("solution") or meta.get("grade"))


def student_copy(notebook):
    """The student's version of a teacher's notebook (a NotebookNode): solutions and exercise outputs removed."""
    from nbgrader.preprocessors import ClearSolutions

    clear = ClearSolutions(code_stub={"python": CODE_STUB}, text_stub="YOUR ANSWER HERE", enforce_metadata=True)
    notebook, _ = clear.preprocess(notebook, {})
    for cell in notebook.cells:
        if cell.cell_type == "code" and is_exercise_cell(cell):
            cell.outputs, cell.execution_count = [], None
    # (ClearSolutions itself refuses a solution marker outside a solution cell.)
    return notebook


def write_student_copies(out_dir, notebooks_dir=NOTEBOOKS):
    """Write a student copy of every numbered notebook into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        copy = student_copy(nbformat.read(path, as_version=4))
        nbformat.write(copy, out_dir / path.name)
        written.append(out_dir / path.name)
    return written


def check_results(notebook) -> dict:
    """{exercise: '✓' | '✗' | '…'} from the check cells' outputs of an executed notebook."""
    results = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            # printed, or (grading: CIFAR_GRADING / nbgrader) the AssertionError's message
            for mark, name in CHECK_LINE.findall(f"{output.get('text', '')}\n{output.get('evalue', '')}"):
                results[name] = mark
    return results


def grade(paths) -> list[str]:
    """A table: one row per notebook, one column per exercise, and the number right out of all the
    notebook's exercises (those of its number: ``04_...`` has 4.1, 4.2, ...), run or not."""
    from .lesson.exercises import CHECKS

    rows = {str(p): check_results(nbformat.read(p, as_version=4)) for p in paths}  # the path: one file per student
    expected = {}
    for name, result in rows.items():
        number = re.match(r"(\d+)_", Path(name).name)
        chapters = {e.split(".")[0] for e in result} | ({str(int(number[1]))} if number else set())
        expected[name] = [e for e in CHECKS if e.split(".")[0] in chapters]
    exercises = sorted({e for names in expected.values() for e in names} | {e for r in rows.values() for e in r},
                       key=lambda n: tuple(map(int, n.split("."))))
    width = max(28, *(len(name) + 1 for name in rows))
    lines = ["notebook".ljust(width) + " ".join(e.rjust(4) for e in exercises) + "  right"]
    for name, result in rows.items():
        marks = " ".join(result.get(e, "-").rjust(4) for e in exercises)
        lines.append(name.ljust(width) + marks + f"  {sum(m == '✓' for m in result.values())}/{len(expected[name])}")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cifar_helpers.classroom", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    copies = commands.add_parser("student-copies", help="write student copies of the notebooks")
    copies.add_argument("out", help="folder for the copies, such as student/")
    copies.add_argument("--notebooks", default=str(NOTEBOOKS), help="the teacher's notebooks")
    graded = commands.add_parser("grade", help="tabulate the exercise checks of executed notebooks")
    graded.add_argument("notebooks", nargs="+", help="executed notebooks (students' submissions)")
    args = parser.parse_args(argv)
    if args.command == "student-copies":
        for path in write_student_copies(args.out, args.notebooks):
            print(f"wrote {path}")
    else:
        print("\n".join(grade(args.notebooks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
