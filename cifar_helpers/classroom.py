"""Classroom commands: student copies of the notebooks, and a table of the exercise checks.

    python -m cifar_helpers.classroom student-copies OUT [--force]        (make student)
    python -m cifar_helpers.classroom grade NOTEBOOK... [--notebooks DIR]   a table of ✓ / ✗ / … per exercise
    python -m cifar_helpers.classroom get-lesson DIR [--force]    a student's lesson: DIR/notebooks/01_*.ipynb ...

The notebooks in notebooks/ are the teacher's version. Their exercises use nbgrader's markup:
the answer cell is an nbgrader solution cell whose solution sits between "### BEGIN SOLUTION"
and "### END SOLUTION", and the check cell after it is a locked nbgrader grade cell. A student
copy is made with nbgrader's own ClearSolutions preprocessor (each solution becomes
"# YOUR CODE HERE", so Run All still runs and each check says "no answer yet"), and the exercise
cells lose their outputs; the lesson's own outputs stay, for reading. The same notebooks also
work with nbgrader's full pipeline (generate_assignment, autograde): see docs/teachers_guide.md.

student-copies refuses the teacher's folder, a notebook with solutions, and a copy whose cells
changed since it was written (their hash is in its metadata; --force replaces such a copy). It
makes every copy before writing any, each through a temporary file renamed over the old one.
get-lesson writes, with the same care, the copies the lesson's wheel carries (cifar_helpers.handout),
or in a checkout copies made from notebooks/; data/ and runs/ then go into DIR.
grade reads a verdict only from a check cell whose source is the teacher's ("!": missing or edited).
Errors are one line on stderr. Exit status: 0 done, 2 bad input or a refusal, 1 a failed read
or write, 130 interrupted (Ctrl-C); no notebook is ever left half-written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import handout
from .core.files import atomic_write
from .core.startup import ctrl_c_raises

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CODE_STUB = "# YOUR CODE HERE"
SOLUTION_MARK = "BEGIN SOLUTION"  # nbgrader's delimiter, as in "### BEGIN SOLUTION"
CHECK_LINE = re.compile(r"^(✓|✗|…) Exercise (\d+\.\d+):", re.M)
CHECK_CALL = re.compile(r"""^check\(\s*["'](\d+\.\d+)["']""")


class Stop(Exception):
    """A one-line reason to stop, and the exit status: 2 bad input or a refusal, 1 a failed read or write."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def read_notebook(path: str | os.PathLike) -> nbformat.NotebookNode:
    """The notebook at ``path``; a missing, empty or non-notebook file stops with one line."""
    path = Path(path)
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise Stop(f"{path} does not exist") from None
    except OSError as error:
        raise Stop(f"cannot read {path}: {error.strerror}", 1) from None
    except Exception as error:  # nbformat raises NotJSONError, ValidationError, AttributeError, ...
        why = "is empty" if path.stat().st_size == 0 else f"is not a notebook ({str(error).splitlines()[0][:80]})"
        raise Stop(f"{path} {why}: give an .ipynb file saved by Jupyter") from None


def is_exercise_cell(cell: nbformat.NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("solution") or meta.get("grade"))


def fingerprint(notebook: nbformat.NotebookNode) -> str:
    """sha256 of the cells' sources: what a student changes when they work in a copy."""
    return hashlib.sha256(json.dumps([cell.source for cell in notebook.cells]).encode()).hexdigest()


def student_copy(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student's version of a teacher's notebook (a NotebookNode): solutions and exercise outputs
    removed, and the fingerprint of its sources recorded in metadata["cifar_helpers"]["student_copy"]."""
    from nbgrader.preprocessors import ClearSolutions

    clear = ClearSolutions(code_stub={"python": CODE_STUB}, text_stub="YOUR ANSWER HERE", enforce_metadata=True)
    notebook, _ = clear.preprocess(notebook, {})
    for cell in notebook.cells:
        if cell.cell_type == "code" and is_exercise_cell(cell):
            cell.outputs, cell.execution_count = [], None
    # (ClearSolutions itself refuses a solution marker outside a solution cell.)
    notebook.metadata.setdefault("cifar_helpers", {})["student_copy"] = {"sha256": fingerprint(notebook)}
    return notebook


def refuse_to_replace(target: Path, copy: nbformat.NotebookNode, force: bool) -> None:
    """Stop if writing ``copy`` over an existing ``target`` would lose work."""
    if not target.is_file():
        return  # (a folder in its place, or a file in OUT's place, fails when written)
    try:
        old = read_notebook(target)
    except Stop:
        old = None  # not a notebook: nobody can tell what it was, so only --force replaces it
    if old is not None and any(SOLUTION_MARK in cell.source for cell in old.cells):
        raise Stop(f"{target} holds solutions ({SOLUTION_MARK}), so it is not replaced, even with --force: "
                   "choose another OUT folder")
    written = old.metadata.get("cifar_helpers", {}).get("student_copy", {}).get("sha256") if old is not None else None
    if not force and (old is None or fingerprint(old) not in (written, fingerprint(copy))):
        raise Stop(f"{target} changed since it was written (a student's work?): move it away, "
                   "or pass --force to replace it")


def write_student_copies(out_dir: str | os.PathLike, notebooks_dir: str | os.PathLike = NOTEBOOKS,
                         force: bool = False) -> list[Path]:
    """Write a student copy of every numbered notebook into ``out_dir``; return their paths."""
    out_dir, notebooks_dir = Path(out_dir), Path(notebooks_dir)
    sources = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        why = "has no numbered notebooks (01_*.ipynb, ...)" if notebooks_dir.is_dir() else "does not exist"
        raise Stop(f"--notebooks folder {notebooks_dir} {why}: pass the folder of the teacher's notebooks")
    if out_dir.resolve() == notebooks_dir.resolve():
        raise Stop(f"OUT {out_dir} is the teacher's notebooks folder: choose another folder, such as student/")
    copies = {}
    for path in sources:  # every copy is made before any is written
        try:
            copy = student_copy(read_notebook(path))
        except RuntimeError as error:  # from ClearSolutions
            raise Stop(f"{path}: broken solution marker ({error}): fix its ### BEGIN/END SOLUTION lines") from None
        copies[out_dir / path.name] = (copy, nbformat.writes(copy) + "\n")
    return write_copies(out_dir, copies, force)


def write_copies(out_dir: Path, copies: dict[Path, tuple[nbformat.NotebookNode, str]],
                 force: bool = False) -> list[Path]:
    """Write ``copies`` ({target: (notebook, text)}) into ``out_dir``, all or none; return their paths."""
    for target, (copy, _) in copies.items():
        refuse_to_replace(target, copy, force)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise Stop(f"cannot make the folder {out_dir} ({error.strerror}): clear the way, or choose another OUT",
                   1) from None
    for done, (target, (_, text)) in enumerate(copies.items()):
        try:
            with atomic_write(target, what="student copy") as file:  # all or nothing, even on Ctrl-C
                file.write(text.encode("utf-8"))
        except OSError as error:
            raise Stop(f"{error} ({done} of {len(copies)} copies written, the others left as they were)", 1) from None
    return list(copies)


def get_lesson(folder: str | os.PathLike, force: bool = False) -> list[Path]:
    """Write the student copies into ``folder``/notebooks: those the installed wheel carries, or, in a
    checkout, copies made from notebooks/. The notebooks then find ``folder`` as the lesson's top folder."""
    out = Path(folder) / "notebooks"
    if out.resolve() == NOTEBOOKS.resolve():
        raise Stop(f"DIR {folder} is the lesson's own checkout, whose notebooks/ holds the solutions: "
                   "choose another folder, such as cifar10-lesson")
    try:
        packed = handout.packed_copies()  # checked: every copy whole and free of solutions; None in a checkout
    except (ValueError, OSError) as error:
        raise Stop(f"{error}: install the lesson's wheel again", 1) from None
    if packed is not None:
        return write_copies(out, {out / name: (nbformat.reads(text, as_version=4), text) for name, text in
                                  packed.items()}, force)
    if not NOTEBOOKS.is_dir():
        raise Stop(f"this cifar_helpers ({Path(__file__).parent}) carries no lesson notebooks: install the "
                   "lesson's wheel (make wheel builds it)", 1)
    return write_student_copies(out, NOTEBOOKS, force)


def verdict(cell: nbformat.NotebookNode, name: str) -> str:
    """The mark of exercise ``name`` in a check cell's outputs: printed, or (grading: CIFAR_GRADING /
    nbgrader) the AssertionError's message; '-' when the cell has no verdict."""
    mark = "-"
    for output in cell.get("outputs", []):
        text = output.get("evalue", "") if output.get("ename") == "AssertionError" else output.get("text", "")
        mark = next((m for m, n in CHECK_LINE.findall(text) if n == name), mark)
    return mark


def check_results(notebook: nbformat.NotebookNode, teacher: nbformat.NotebookNode) -> dict[str, str]:
    """{exercise: mark} for every check cell of the ``teacher``'s notebook, read from the same cell of
    ``notebook`` (same cell id or nbgrader grade_id): '✓' | '✗' | '…', '-' not run, '!' missing or edited."""
    results = {}
    for check in teacher.cells:
        call = CHECK_CALL.match(check.source) if check.cell_type == "code" else None
        meta = check.metadata.get("nbgrader", {})
        if not (call and meta.get("grade") and meta.get("locked")):
            continue
        same = {check.get("id"), meta.get("grade_id")} - {None}  # the same cell: the same id or grade_id
        cell = next((c for c in notebook.cells if same & {c.get("id"), c.metadata.get("nbgrader", {}).get("grade_id")}),
                    None)
        kept = cell is not None and cell.cell_type == "code" and cell.source == check.source and all(
            cell.metadata.get("nbgrader", {}).get(key) for key in ("grade", "locked"))
        results[call[1]] = verdict(cell, call[1]) if kept else "!"
    return results


def grade(paths: Iterable[str | os.PathLike], notebooks_dir: str | os.PathLike = NOTEBOOKS) -> list[str]:
    """A table: one row per notebook, one column per exercise, and the number right out of all the
    exercises of the teacher's notebook of the same name, run or not; then a note per notebook with '!'."""
    rows, teachers = {}, {}
    for path in map(Path, paths):
        if path.name not in teachers:
            if not (Path(notebooks_dir) / path.name).is_file():
                raise Stop(f"{path}: no {path.name} in --notebooks {notebooks_dir}: keep the teacher's file name")
            teachers[path.name] = read_notebook(Path(notebooks_dir) / path.name)
        rows[str(path)] = check_results(read_notebook(path), teachers[path.name])  # the path: one file per student
    exercises = sorted({e for r in rows.values() for e in r}, key=lambda n: tuple(map(int, n.split("."))))
    width = max(28, *(len(name) + 1 for name in rows))
    lines = ["notebook".ljust(width) + " ".join(e.rjust(4) for e in exercises) + "  right"]
    notes = []
    for name, result in rows.items():
        marks = " ".join(result.get(e, "").rjust(4) for e in exercises)
        lines.append(name.ljust(width) + marks + f"  {sum(m == '✓' for m in result.values())}/{len(result)}")
        if edited := [e for e, m in result.items() if m == "!"]:
            notes.append(f"! {name}: check cell {', '.join(edited)} missing or edited, counted as not run")
    return lines + notes


def main(argv: Sequence[str] | None = None) -> int:
    ctrl_c_raises()
    parser = argparse.ArgumentParser(prog="python -m cifar_helpers.classroom", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    copies = commands.add_parser("student-copies", help="write student copies of the notebooks")
    copies.add_argument("out", help="folder for the copies, such as student/")
    copies.add_argument("--notebooks", default=str(NOTEBOOKS), help="the teacher's notebooks")
    copies.add_argument("--force", action="store_true", help="replace copies changed since they were written")
    lesson = commands.add_parser("get-lesson", help="write the lesson's notebooks for a student")
    lesson.add_argument("dir", help="the lesson's folder: the notebooks go into DIR/notebooks")
    lesson.add_argument("--force", action="store_true", help="replace notebooks changed since they were written")
    graded = commands.add_parser("grade", help="tabulate the exercise checks of executed notebooks")
    graded.add_argument("submissions", nargs="+", metavar="NOTEBOOK", help="executed notebooks (students' work)")
    graded.add_argument("--notebooks", default=str(NOTEBOOKS), help="the teacher's notebooks, whose check cells count")
    args = parser.parse_args(argv)
    try:
        if args.command == "student-copies":
            for path in write_student_copies(args.out, args.notebooks, args.force):
                print(f"wrote {path}")
        elif args.command == "get-lesson":
            paths = get_lesson(args.dir, args.force)
            print("\n".join(f"wrote {path}" for path in paths) + f"\nnext: jupyter lab {paths[0].parent}")
        else:
            print("\n".join(grade(args.submissions, args.notebooks)))
    except Stop as error:
        print(f"{parser.prog} {args.command}: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted; no notebook is half-written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
