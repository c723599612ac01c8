"""The student edition (tools/student_edition.py) keeps exercises and drops every solution."""

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

spec = importlib.util.spec_from_file_location("student_edition", ROOT / "tools" / "student_edition.py")
student_edition = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student_edition)


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    student_edition.write_student_edition(out)
    return out / "chapters"


def solution_lines(nb):
    """Distinctive lines that occur only in solution cells of the full notebook."""
    elsewhere = "\n".join("".join(c.source) for c in nb.cells if not student_edition.is_solution(c))
    lines = set()
    for cell in nb.cells:
        if student_edition.is_solution(cell):
            for line in "".join(cell.source).splitlines():
                line = line.strip()
                if len(line) > 25 and line not in elsewhere:
                    lines.add(line)
    return lines


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_solution_survives(edition, path):
    full = nbformat.read(path, as_version=4)
    student = nbformat.read(edition / path.name, as_version=4)
    assert not any(student_edition.is_solution(c) for c in student.cells)
    text = json.dumps(student)
    leaked = [line for line in solution_lines(full) if json.dumps(line)[1:-1] in text]
    assert not leaked, f"solution text left in the student edition: {leaked[:3]}"
    assert "{solution" not in text


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_exercises_are_kept(edition, path):
    count = lambda nb: sum("{exercise}" in "".join(c.source) for c in nb.cells)  # noqa: E731
    full = nbformat.read(path, as_version=4)
    student = nbformat.read(edition / path.name, as_version=4)
    assert count(student) == count(full) >= 3


def test_planted_solution_is_removed(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("```{exercise} Sum\n:label: ex-sum\n\nAdd.\n```"),
        nbformat.v4.new_code_cell("answer = 1 + 1  # the secret solution line", metadata={"tags": ["solution"]}),
    ]
    student, removed = student_edition.strip_solutions(nb)
    assert removed == 1
    assert "secret" not in json.dumps(student)
    assert len(nb.cells) == 2, "the book's notebook itself is left untouched"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_notebook_runs_up_to_first_exercise(edition, path):
    nb = nbformat.read(edition / path.name, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if "{exercise}" in "".join(c.source))
    nb.cells = nb.cells[:first]
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "chapters")}}).execute()
