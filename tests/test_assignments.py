"""The nbgrader course (tools/assignments.py) works with nbgrader itself.

For every chapter: ``nbgrader generate_assignment`` writes a release notebook without
solution text, and ``nbgrader autograde`` grades two made-up submissions: "alice" hands
in the instructor's answers for every chapter (full marks), "bob" the same for three
chapters with one planted mistake each (the first graded function returns 1.01 times the
right value), which must cost him the points of that check and no more.  The gradebook
is printed.

The two students are graded in two copies of the course, in parallel (each notebook runs
in full, as a hub would run it); this is the slowest test of the suite (about 3 minutes).
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("assignments", ROOT / "tools" / "assignments.py")
assignments = importlib.util.module_from_spec(spec)
spec.loader.exec_module(assignments)
pytest.importorskip("nbgrader")
from nbgrader.api import Gradebook  # noqa: E402

# nbgrader runs its database migrations with the `alembic` program of the environment.
# Bob's planted mistakes: three chapters, including one where the first check is worth 2 of 3 points.
BOB_CHAPTERS = ["01_nonlinear_models", "04_training_single_layer", "06_backpropagation"]
ENV = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))


def nbgrader(course, *args):
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--force"], cwd=course, env=ENV,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def graded_cells(nb, kind):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get(kind)]


def submission(release, source, plant_mistake):
    """The release notebook filled in with the instructor's answers (and one planted mistake)."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in graded_cells(source, "solution")}
    nb = nbformat.from_dict(release)
    for k, cell in enumerate(graded_cells(nb, "solution")):
        cell.source = answers[cell.metadata["nbgrader"]["grade_id"]]
        if plant_mistake and k == 0:
            name = re.search(r"^def (\w+)", cell.source, re.M).group(1)
            cell.source += (f"\n\n\n_right_{name} = {name}\n\n\ndef {name}(*args, **kwargs):\n"
                            f"    return 1.01 * _right_{name}(*args, **kwargs)\n")
    return nb


def first_check_points(source):
    """Points of the check that judges the first answer: the first check cell after it."""
    cells = source.cells
    first_answer = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("solution"))
    check = next(c for c in cells[first_answer:] if c.metadata.get("nbgrader", {}).get("grade"))
    return check.metadata["nbgrader"]["points"]


def grade(course, student, chapters, plant_mistake):
    for chapter in chapters:
        release = nbformat.read(course / "release" / chapter / f"{chapter}.ipynb", as_version=4)
        source = nbformat.read(course / "source" / chapter / f"{chapter}.ipynb", as_version=4)
        target = course / "submitted" / student / chapter / f"{chapter}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(submission(release, source, plant_mistake), target)
        nbgrader(course, "autograde", chapter, "--student", student, "--create")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {chapter: (gradebook.find_submission(chapter, student).score,
                          gradebook.find_submission(chapter, student).max_score) for chapter in chapters}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    written = assignments.write_course(course)
    chapters = [row[0] for row in written]
    # The first run creates the gradebook's tables; two runs that both find none race to create them
    # ("table assignment already exists"), so the others start only after it.
    nbgrader(course, "generate_assignment", chapters[0])
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda chapter: nbgrader(course, "generate_assignment", chapter), chapters[1:]))
    return course, chapters


def test_every_chapter_is_an_assignment(course):
    _, chapters = course
    assert chapters == [p.stem for p in sorted((ROOT / "chapters").glob("*.ipynb"))]


def test_release_has_no_solution_text(course):
    course, chapters = course
    for chapter in chapters:
        source = nbformat.read(course / "source" / chapter / f"{chapter}.ipynb", as_version=4)
        release = nbformat.read(course / "release" / chapter / f"{chapter}.ipynb", as_version=4)
        release_text = "\n".join(c.source for c in release.cells)
        lecture_text = "\n".join(c.source for c in source.cells if not c.metadata.get("nbgrader", {}).get("solution"))
        for cell in graded_cells(source, "solution"):
            region = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            assert region, cell.source
            for line in "".join(region).splitlines():
                if len(line.strip()) > 15 and line not in lecture_text:
                    assert line not in release_text, f"{chapter}: solution line in the release: {line!r}"
        assert "raise NotImplementedError()" in release_text
        original = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
        for cell in original.cells:  # worked solutions are left out
            if "solution" in cell.metadata.get("tags", []) and len(cell.source) > 40:
                assert cell.source not in release_text


def test_autograde_gives_full_and_partial_marks(course):
    course, chapters = course
    alice_course = course.parent / (course.name + "-alice")
    shutil.copytree(course, alice_course)
    with ThreadPoolExecutor(max_workers=2) as pool:
        alice = pool.submit(grade, alice_course, "alice", chapters, False)
        bob = pool.submit(grade, course, "bob", BOB_CHAPTERS, True)
        alice, bob = alice.result(), bob.result()
    print("\ngradebook (score / max):")
    print(f"{'assignment':<28}{'alice':>12}{'bob':>12}")
    for chapter in chapters:
        bob_score = f"{bob[chapter][0]:>6g} / {bob[chapter][1]:<3g}" if chapter in bob else f"{'-':>12}"
        print(f"{chapter:<28}{alice[chapter][0]:>6g} / {alice[chapter][1]:<3g}{bob_score}")
    for chapter in chapters:
        source = nbformat.read(course / "source" / chapter / f"{chapter}.ipynb", as_version=4)
        score, maximum = alice[chapter]
        assert score == maximum > 0, f"{chapter}: the instructor's answers got {score} of {maximum}"
        if chapter not in bob:
            continue
        assert bob[chapter] == (maximum - first_check_points(source), maximum), \
            f"{chapter}: the planted mistake should cost exactly its check's points, got {bob[chapter]}"
