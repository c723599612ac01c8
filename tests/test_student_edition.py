"""The student edition (tools/student_edition.py): no solution left, a stub for every graded
answer, and "Run All" reaches the end with every check saying "Not yet".

With the answers in place every check says "Correct": that is the chapter itself, whose
stored check outputs strict nbval compares (tests run by ``tasks.py test``).
"""

import importlib.util
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

spec = importlib.util.spec_from_file_location("student_edition", ROOT / "tools" / "student_edition.py")
student_edition = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student_edition)


def tagged(nb, tag):
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    student_edition.write_student_edition(out)
    return out / "chapters"


def hidden_lines(full, student):
    """Distinctive lines of solution and answer cells that the student must not see."""
    visible = "\n".join(c.source for c in full.cells if not ({"solution", "answer"} & set(c.metadata.get("tags", []))))
    visible += "\n".join(c.source for c in student.cells)  # the stubs' def lines and docstrings
    lines = set()
    for cell in tagged(full, "solution") + tagged(full, "answer"):
        for line in cell.source.splitlines():
            line = line.strip()
            if len(line) > 20 and line not in visible:
                lines.add(line)
    return lines


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_solution_survives(edition, path):
    full = nbformat.read(path, as_version=4)
    student = nbformat.read(edition / path.name, as_version=4)
    assert not tagged(student, "solution") and not tagged(student, "answer")
    student_text = json.dumps(student)
    full_student = nbformat.from_dict(student)
    for cell in full_student.cells:  # compare against sources only: stubs keep the def lines
        cell.outputs = [] if cell.cell_type == "code" else None
    leaked = [line for line in hidden_lines(full, student) if json.dumps(line)[1:-1] in student_text]
    assert not leaked, f"solution text left in the student edition: {leaked[:3]}"
    assert all(c.execution_count is None for c in student.cells if c.cell_type == "code")
    assert all(not c.outputs for c in tagged(student, "check") + tagged(student, "stub"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_chapter_has_graded_exercises_in_the_convention(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in tagged(nb, "exercise"))
    assert len(tagged(nb, "exercise")) >= 3, "at least three exercises per chapter"
    assert tagged(nb, "answer") and tagged(nb, "check"), "at least one graded exercise (answer + check cells)"
    assert "{exercise}" not in text and "{py:" not in text and "{ref}" not in text, \
        "exercise statements are plain Markdown (MyST roles and directives show as raw text in Jupyter)"
    for cell in tagged(nb, "exercise"):
        assert cell.source.startswith("### Exercise: "), cell.source[:60]
        assert cell.metadata.get("nmdl", {}).get("label", "").startswith("ex-"), cell.source[:60]
    for cell in tagged(nb, "check"):
        assert "verdict" in cell.source, f"a check cell assigns its result to verdict: {cell.source[:60]}"
        assert int(cell.metadata.get("nmdl", {}).get("points", 1)) >= 1


def test_stub_keeps_signatures_and_docstrings_only():
    source = ('import numpy as np\nSCALE = 2.0\n\n\ndef f(x, y=1):\n    """Twice x plus y."""\n    z = SCALE * x\n'
              "    return z + y\n\n\ndef g(x):\n    return -x  # the secret\n")
    stub = student_edition.stub_source(source)
    assert 'def f(x, y=1):\n    """Twice x plus y."""\n    # YOUR CODE HERE\n    raise NotImplementedError("fill in f")' in stub
    assert "def g(x):" in stub and "secret" not in stub and "z = SCALE" not in stub
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError, match="fill in g"):
        namespace["g"](1)
    with pytest.raises(ValueError, match="only imports, constants and functions"):
        student_edition.stub_source("def f(x):\n    return x\n\nprint(f(1))\n")


# Each notebook runs in its own process (nbclient's kernels do not mix well with threads).
RUNNER = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": sys.argv[3]}}).execute()
nbformat.write(nb, sys.argv[2])
"""


def run(path):
    target = path.with_suffix(".executed.ipynb")
    result = subprocess.run([sys.executable, "-c", RUNNER, str(path), str(target), str(ROOT / "chapters")],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"{path.name} did not run to the end:\n{result.stderr[-3000:]}"
    return nbformat.read(target, as_version=4)


@pytest.fixture(scope="module")
def executed(edition):
    # Two notebooks at a time: the machine has two cores and each chapter runs in well under a minute.
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip([p.name for p in CHAPTERS], pool.map(run, [edition / p.name for p in CHAPTERS])))


def printed(cell):
    return "".join(o.get("text", "") + "".join(o.get("data", {}).get("text/plain", "")) for o in cell.outputs)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_student_notebook_runs_to_the_end_and_every_check_says_not_yet(executed, path):
    nb = executed[path.name]
    checks = tagged(nb, "check")
    assert checks
    for cell in checks:
        text = printed(cell)
        assert "Not yet" in text and "fill in" in text, f"a check with unfilled stubs printed {text[:200]!r}"
        assert "Correct" not in text
