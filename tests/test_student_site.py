"""The student site (``python3 tasks.py book --student``) holds no solution anywhere.

Checked in the pages (no solution block, every exercise block present), in every
notebook and text file the site serves (the pages' ``.ipynb`` downloads, ``_sources``,
the JupyterLite copies), by searching the distinctive lines of the chapters' solution
and answer cells.  ``tasks.py test`` builds the site first; run alone, the test skips
until it is built (``NNLIB_BOOK_BUILD_STATUS`` set by ``tasks.py test`` makes a missing
site a failure).
"""

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html-student"
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
TEXT_SUFFIXES = {".ipynb", ".json", ".txt", ".md", ".py", ".js", ".html"}

if not (SITE / "index.html").exists():
    if os.environ.get("NNLIB_BOOK_BUILD_STATUS"):
        raise RuntimeError("the student site was not built: python3 tasks.py book --student")
    pytest.skip("the student site is not built (python3 tasks.py book --student)", allow_module_level=True)


def tags(cell):
    return cell.metadata.get("tags", [])


def hidden_lines(nb):
    """Distinctive lines of solution and answer cells that occur nowhere else in the chapter."""
    visible = "\n".join(c.source for c in nb.cells if not {"solution", "answer"} & set(tags(c)))
    lines = set()
    for cell in nb.cells:
        if {"solution", "answer"} & set(tags(cell)):
            for line in cell.source.splitlines():
                line = line.strip()
                if len(line) > 30 and line not in visible and not line.startswith(("def ", '"""', "#")):
                    lines.add(line)
    return lines


@pytest.fixture(scope="module")
def served_texts():
    texts = {}
    for path in SITE.rglob("*"):
        if path.is_file() and path.suffix in TEXT_SUFFIXES and path.stat().st_size < 20_000_000:
            texts[path.relative_to(SITE).as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    return texts


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_no_solution_line_is_served(served_texts, chapter):
    lines = hidden_lines(nbformat.read(chapter, as_version=4))
    assert lines, "every chapter has solutions"
    needles = {line: (line, json.dumps(line)[1:-1]) for line in lines}
    # the chapter's page, its downloads and sources, its JupyterLite copy (a generic line such
    # as "rng = np.random.default_rng(11)" may well occur in another chapter)
    mine = {name: text for name, text in served_texts.items() if chapter.stem in name}
    assert len(mine) >= 3, sorted(mine)
    leaks = [(name, line) for name, text in mine.items()
             for line, forms in needles.items() if any(form in text for form in forms)]
    assert not leaks, f"solution text served by the student site: {leaks[:3]}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_pages_have_exercises_and_no_solutions(served_texts, chapter):
    page = served_texts[f"chapters/{chapter.stem}.html"]
    n_exercises = sum("exercise" in tags(c) for c in nbformat.read(chapter, as_version=4).cells)
    assert len(re.findall(r'class="[^"]*\bexercise\b[^"]*admonition|class="[^"]*admonition[^"]*\bexercise\b', page)) >= n_exercises
    assert not re.search(r'class="[^"]*\bsolution\b[^"]*admonition|class="[^"]*admonition[^"]*\bsolution\b', page)
    assert "BEGIN SOLUTION" not in page


def test_lite_copies_are_student_notebooks(served_texts):
    copies = [name for name in served_texts if re.search(r"lite/files/chapters/.*\.ipynb$", name)]
    assert len(copies) == len(CHAPTERS), copies
    for name in copies:
        nb = json.loads(served_texts[name])
        assert nb["metadata"].get("nmdl", {}).get("edition") == "student", name
        assert not any({"solution", "answer"} & set(c["metadata"].get("tags", [])) for c in nb["cells"]), name
