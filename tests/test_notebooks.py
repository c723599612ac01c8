"""Hygiene of the committed chapter notebooks (nbval then re-runs them)."""

import json
import re
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("*.ipynb"))


def cells(path):
    return json.loads(path.read_text())["cells"]


def source(cell):
    return "".join(cell.get("source", ""))


def test_there_are_chapters():
    assert CHAPTERS, "no chapter notebooks found in chapters/"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_committed_with_outputs_of_a_clean_run(path):
    code = [c for c in cells(path) if c["cell_type"] == "code" and source(c).strip()]
    counts = [c["execution_count"] for c in code]
    assert None not in counts, f"{path.name}: some code cells were never run"
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: not one clean top-to-bottom run"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: stored outputs contain an error"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_no_global_rng_and_no_sys_path(path):
    code = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "code")
    assert "sys.path" not in code
    assert not re.search(r"np\.random\.(seed|rand|randn|randint|normal|uniform|choice|permutation)\(", code)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_exercises_have_tagged_solutions(path):
    nb_cells = cells(path)
    exercises = [c for c in nb_cells if "{exercise}" in source(c)]
    solutions = [c for c in nb_cells if "{solution" in source(c)]
    assert len(exercises) >= 3, f"{path.name}: a chapter needs at least three exercises"
    untagged = [source(c)[:60] for c in solutions if "solution" not in c.get("metadata", {}).get("tags", [])]
    assert not untagged, f"{path.name}: solution cells without the 'solution' tag: {untagged}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_cells_inside_gated_solutions_are_tagged(path):
    inside, untagged = False, []
    for cell in cells(path):
        text = source(cell)
        if "{solution-start}" in text:
            inside = True
        if inside and "solution" not in cell.get("metadata", {}).get("tags", []):
            untagged.append(text[:60])
        if "{solution-end}" in text:
            inside = False
    assert not inside, f"{path.name}: a solution-start without solution-end"
    assert not untagged, f"{path.name}: cells of a gated solution without the 'solution' tag: {untagged}"
