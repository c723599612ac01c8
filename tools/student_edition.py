"""Write the student edition of the chapters: every solution removed.

Usage: python tools/student_edition.py [OUTPUT_DIR]   (default: student/)

Solutions are marked in the chapter notebooks by the cell tag ``solution``: the
``{solution}`` dropdowns, and for code solutions the whole gated block from
``{solution-start}`` to ``{solution-end}``.  Those cells are dropped; everything
else, exercises included, is kept with its outputs, so the student sees the
figures and the printed numbers of the lecture.  The ``{exercise}`` directives
stay valid MyST without their solutions.
"""

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION_TAG = "solution"


def is_solution(cell):
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def strip_solutions(nb):
    """Return a copy of the notebook without its solution cells (and the number removed)."""
    student = nbformat.from_dict(nb)
    kept = [cell for cell in student.cells if not is_solution(cell)]
    removed = len(student.cells) - len(kept)
    student.cells = kept
    student.metadata.setdefault("nmdl", {})["edition"] = "student"
    return student, removed


def write_student_edition(out_dir):
    out_dir = Path(out_dir)
    written = []
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        student, removed = strip_solutions(nb)
        target = out_dir / "chapters" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student, target)
        written.append((target, removed))
        print(f"{target.relative_to(out_dir.parent) if out_dir.is_absolute() else target}: "
              f"{removed} solution cells removed")
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "student"
    if not write_student_edition(out):
        sys.exit("no chapter notebooks found in chapters/")
