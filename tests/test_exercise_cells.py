"""The Sphinx extension that turns tagged Markdown cells into exercise blocks and summary boxes."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("exercise_cells", ROOT / "_ext" / "exercise_cells.py")
exercise_cells = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(exercise_cells)


def markdown(text, *tags, **metadata):
    return {"cell_type": "markdown", "id": text[:8], "metadata": {"tags": list(tags), **metadata}, "source": text}


def code(text, *tags):
    return {"cell_type": "code", "id": text[:8], "metadata": {"tags": list(tags)}, "outputs": [], "source": text}


def test_exercise_and_folded_solution():
    notebook = {"cells": [
        markdown("### Exercise: Two rings\nShow that $x$ ...", "exercise", nmdl={"label": "ex-rings"}),
        markdown("Because ...", "solution"),
        code("def f(x):\n    return x", "answer"),
        code("check(f)", "check"),
    ]}
    cells = exercise_cells.convert(notebook, "chapters/01_x")["cells"]
    texts = [c["source"] for c in cells]
    assert texts[0].startswith("````{exercise} Two rings\n:label: ex-rings\n\nShow that $x$ ...")
    assert texts[1] == "```{solution-start} ex-rings\n:class: dropdown\n```\n"
    assert texts[2:4] == ["Because ...", "def f(x):\n    return x"]
    assert texts[4] == "```{solution-end}\n```\n"
    assert texts[5] == "check(f)"


def test_objectives_become_a_tip_box_and_key_points_a_boxed_section():
    notebook = {"cells": [
        markdown("# Title\n\nIntro."),
        markdown("### Learning objectives\n\nAfter this chapter you can\n\n* do $a$;\n* do b.", "objectives"),
        markdown("## Key points\n\n* one\n* two ```code```", "key-points"),
    ]}
    cells = exercise_cells.convert(notebook, "chapters/01_x")["cells"]
    objectives, key_points = cells[1]["source"], cells[2]["source"]
    assert objectives.startswith("````{admonition} Learning objectives\n:class: tip nnlib-objectives\n")
    assert "* do $a$;\n* do b.\n````\n" in objectives
    assert key_points.startswith("## Key points\n\n````{container} nnlib-key-points\n")
    assert key_points.endswith("* two ```code```\n````\n")
    assert cells[0]["source"] == "# Title\n\nIntro."
