"""The handout: the students' copies of the six notebooks, packed into the lesson's wheel.

tools/build_wheel.py (make wheel) writes the copies with nbgrader (python -m cifar_helpers.classroom
student-copies), records them with `record`, and setup.py packs them into
cifar_helpers/lesson_notebooks/ only after `check` has found them whole, as new as the teacher's
notebooks and free of every solution; otherwise the build stops. `python -m cifar_helpers.classroom
get-lesson DIR` then writes them out of the installed package (`packed_copies`).

This module uses the standard library only: setup.py loads it by its path, in a build environment
that has neither PyTorch nor nbgrader.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

PACKED = Path(__file__).resolve().parent / "lesson_notebooks"  # in an installed wheel; absent in a checkout
RECORD = "handout.json"  # {"notebooks": {name: {"sha256": copy's, "teacher_sha256": teacher's}}}
MARKS = ("BEGIN SOLUTION", "END SOLUTION")  # nbgrader's delimiters, as in "### BEGIN SOLUTION"


def sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def numbered(folder: str | os.PathLike) -> list[Path]:
    return sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))


def record(pack: str | os.PathLike, teachers: str | os.PathLike) -> Path:
    """Write ``pack``/handout.json: the hash of each copy and of the teacher's notebook it was made from."""
    notebooks = {path.name: {"sha256": sha256(path), "teacher_sha256": sha256(Path(teachers) / path.name)}
                 for path in numbered(pack)}
    target = Path(pack) / RECORD
    target.write_text(json.dumps({"notebooks": notebooks}, indent=1) + "\n")
    return target


def cell_lines(cell: dict) -> list[str]:
    source = cell.get("source", "")
    return ("".join(source) if isinstance(source, list) else source).splitlines()


def solution_lines(cell: dict) -> list[str]:
    """The non-blank lines of a solution cell's solutions (the whole cell where it has no delimiters)."""
    lines, inside, found = [], False, False
    for line in cell_lines(cell):
        if line.strip().endswith(MARKS[0]) or line.strip().endswith(MARKS[1]):
            inside, found = line.strip().endswith(MARKS[0]), True
        elif inside:
            lines.append(line)
    return [line for line in (lines if found else cell_lines(cell)) if line.strip()]


def leaked_solution(copy_path: str | os.PathLike, teacher_path: str | os.PathLike) -> str | None:
    """The first solution line of the teacher's notebook that is left in the copy's same cell, if any."""
    copy_cells = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c
                  for c in json.loads(Path(copy_path).read_text(encoding="utf-8"))["cells"]}
    for cell in json.loads(Path(teacher_path).read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if meta.get("grade_id") not in copy_cells:
            return f"its answer cell {meta.get('grade_id')} is missing"
        left = set(cell_lines(copy_cells[meta["grade_id"]]))
        if leak := next((line for line in solution_lines(cell) if line in left), None):
            return repr(leak.strip())
    return None


def check(pack: str | os.PathLike, teachers: str | os.PathLike | None = None) -> list[Path]:
    """The copies in ``pack``, after checking that handout.json lists exactly them with their hashes and that
    none holds a solution mark; with ``teachers`` (the teacher's notebooks), also that each copy was made
    from the notebook there as it is now and keeps none of its solution lines. Else ValueError, one line."""
    pack = Path(pack)
    try:
        listed = json.loads((pack / RECORD).read_text(encoding="utf-8"))["notebooks"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        why = "is missing" if isinstance(error, FileNotFoundError) else f"is unreadable ({error})"
        raise ValueError(f"no student copies in {pack}: {pack / RECORD} {why}") from None
    copies = numbered(pack)
    if not copies or sorted(listed) != [path.name for path in copies]:
        raise ValueError(f"{pack} holds {[p.name for p in copies]} but {RECORD} lists {sorted(listed)}")
    if teachers is not None and [p.name for p in numbered(teachers)] != sorted(listed):
        raise ValueError(f"{pack} has copies of {sorted(listed)} but {teachers} has "
                         f"{[p.name for p in numbered(teachers)]}: make the copies again")
    for path in copies:
        if sha256(path) != listed[path.name].get("sha256"):
            raise ValueError(f"{path} changed since it was made (its hash is not the one in {RECORD})")
        if any(mark in path.read_text(encoding="utf-8") for mark in MARKS):
            raise ValueError(f"{path} holds a solution ({MARKS[0]})")
        if teachers is not None:
            teacher = Path(teachers) / path.name
            if sha256(teacher) != listed[path.name].get("teacher_sha256"):
                raise ValueError(f"{path} was made from an older {teacher}: make the copies again")
            if leak := leaked_solution(path, teacher):
                raise ValueError(f"{path} keeps a solution of {teacher}: {leak}")
    return copies


def packed_copies() -> dict[str, str] | None:
    """{name: text} of the copies this installation carries, checked; None where none are packed (a checkout)."""
    if not PACKED.is_dir():
        return None
    return {path.name: path.read_text(encoding="utf-8") for path in check(PACKED)}
