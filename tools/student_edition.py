"""Write the student edition of the chapters: solutions removed, graded answers turned into stubs.

Usage: python tools/student_edition.py [OUTPUT_DIR]   (default: student/)

The chapter notebooks mark their exercises with cell tags (README, "Writing an exercise"):

- ``solution`` cells (worked solutions, Markdown or code) are dropped;
- each ``answer`` cell (the functions a self-check grades) becomes a stub: the same
  ``def`` lines and docstrings, with the body ``raise NotImplementedError``, so the student
  fills in exactly the signature the check calls;
- ``check`` cells stay, with their outputs cleared (a stored "Correct" above an empty stub
  would lie);
- every execution count is cleared; the lecture's figures and printed numbers are kept.

"Run All" on a student notebook reaches the end: each check then says "Not yet" instead
of raising (``tests/test_student_edition.py`` runs every student notebook to the end,
with the stubs and with the answers put back).
"""

import ast
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTION, ANSWER, CHECK = "solution", "answer", "check"


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def signature_end(node):
    """Index (0-based) of the last line of a function's signature."""
    args = node.args
    parts = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
    parts += args.defaults + [d for d in args.kw_defaults if d is not None]
    ends = [node.lineno] + [p.end_lineno for p in parts] + ([node.returns.end_lineno] if node.returns else [])
    return max(ends) - 1


def stub_source(source):
    """The stub of an answer cell: imports and defs kept, every function body replaced.

    Only imports, constant assignments and function definitions may appear in an answer
    cell; anything else is an error, because the student edition could not show it
    without giving the answer away.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    parts = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign)):
            parts.append("\n".join(lines[node.lineno - 1: node.end_lineno]))
        elif isinstance(node, ast.FunctionDef):
            first_body = node.body[0]
            header_end = signature_end(node) + 1  # comments in the body may give the answer away
            has_docstring = (isinstance(first_body, ast.Expr) and isinstance(first_body.value, ast.Constant)
                             and isinstance(first_body.value.value, str))
            if has_docstring:
                header_end = first_body.end_lineno
            start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
            header = lines[start:header_end]
            indent = " " * first_body.col_offset
            parts.append("\n".join(header + [f"{indent}# YOUR CODE HERE",
                                             f'{indent}raise NotImplementedError("fill in {node.name}")']))
        else:
            raise ValueError(f"an answer cell may hold only imports, constants and functions; line {node.lineno} "
                             f"is a {type(node).__name__}: {lines[node.lineno - 1].strip()!r}")
    return "\n\n\n".join(parts)


def student_notebook(nb):
    """A student copy of the notebook and the number of solution cells removed."""
    student = nbformat.from_dict(nb)
    kept, removed = [], 0
    for cell in student.cells:
        cell_tags = tags(cell)
        if ANSWER in cell_tags:
            cell = nbformat.v4.new_code_cell(stub_source(cell.source), id=cell.get("id"))
            cell.metadata["tags"] = ["stub"]
            removed += 1
        elif SOLUTION in cell_tags:
            removed += 1
            continue
        if cell.cell_type == "code":
            cell.execution_count = None
            if CHECK in cell_tags or "stub" in tags(cell):
                cell.outputs = []
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = None
        kept.append(cell)
    student.cells = kept
    student.metadata.setdefault("nmdl", {})["edition"] = "student"
    return student, removed


def with_answers(nb):
    """The notebook with only the worked (non-graded) solutions removed: what a student
    who solved every graded exercise would hand in.  Used by the tests."""
    full = nbformat.from_dict(nb)
    full.cells = [c for c in full.cells if not (SOLUTION in tags(c) and ANSWER not in tags(c))]
    return full


def solution_texts(nb):
    """Source texts that must not appear in the student edition (solutions and answer bodies)."""
    texts = []
    for cell in nb.cells:
        if SOLUTION in tags(cell) or ANSWER in tags(cell):
            texts.append(cell.source)
    return texts


def write_student_edition(out_dir, sources=None):
    out_dir = Path(out_dir)
    written = []
    for path in sources or sorted((ROOT / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        student, removed = student_notebook(nb)
        target = out_dir / "chapters" / Path(path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(student, target)
        written.append((target, removed))
        print(f"{target}: {removed} solution cells removed or stubbed")
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "student"
    if not write_student_edition(out):
        sys.exit("no chapter notebooks found in chapters/")
