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
def test_exercises_are_tagged_cells_not_directives(path):
    """Exercises and solutions are tagged cells (tests/test_student_edition.py checks the
    convention); a MyST exercise or solution directive would show as raw text in Jupyter."""
    left = [source(c)[:60] for c in cells(path) if re.search(r"\{(exercise|solution|solution-start|solution-end)\}", source(c))]
    assert not left, f"{path.name}: MyST exercise/solution directives left: {left}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_learning_objectives_and_key_points(path):
    """Every chapter opens with its learning objectives and ends its lecture with key points,
    as tagged Markdown cells (_ext/exercise_cells.py gives them the same look everywhere)."""
    markdown = [c for c in cells(path) if c["cell_type"] == "markdown"]
    tagged = {tag: [c for c in markdown if tag in c.get("metadata", {}).get("tags", [])] for tag in ("objectives", "key-points")}
    assert len(tagged["objectives"]) == 1, f"{path.name}: expected one cell tagged objectives, found {len(tagged['objectives'])}"
    assert len(tagged["key-points"]) == 1, f"{path.name}: expected one cell tagged key-points, found {len(tagged['key-points'])}"
    objectives, key_points = tagged["objectives"][0], tagged["key-points"][0]
    assert markdown.index(objectives) == 1, f"{path.name}: the learning objectives follow the title cell"
    assert source(objectives).startswith("### Learning objectives\n"), f"{path.name}: objectives start with '### Learning objectives'"
    assert source(key_points).startswith("## Key points\n"), f"{path.name}: key points start with '## Key points'"
    assert re.search(r"^\* ", source(key_points), re.MULTILINE), f"{path.name}: the key points are a list"
    later = [source(c) for c in markdown[markdown.index(key_points) + 1:]]
    assert later and later[0].startswith("## Exercises"), f"{path.name}: the key points come right before '## Exercises'"
    assert "Learning objectives" not in "".join(source(c) for c in markdown if c is not objectives), (
        f"{path.name}: learning objectives written outside their tagged cell")


@pytest.mark.parametrize("path", [*CHAPTERS, *sorted(CHAPTERS[0].parent.parent.glob("benchmarks/*.ipynb"))],
                         ids=lambda p: p.name)
def test_no_printed_text_on_both_sides_of_a_figure_or_table(path):
    """The book merges a cell's printed lines into one box (nb_merge_streams, so that a table
    printed while it is computed is not cut into pieces), at the place of the first line: text
    printed after a figure or table of the same cell would move above it."""
    split = []
    for cell in cells(path):
        seen, previous = set(), None
        for output in cell.get("outputs", []):
            kind = (output["output_type"], output.get("name"))
            if kind[0] == "stream" and kind in seen and previous != kind:
                split.append(source(cell)[:60])
                break
            seen.add(kind)
            previous = kind
    assert not split, f"{path.name}: cells print before and after a figure or table (print it all after, or use a caption): {split}"


# --- numbers quoted in the prose must be printed by the chapter ---------------------------------
# A number in a markdown cell that looks measured (a decimal, a percentage, a number in scientific
# notation or with thousands separators) must appear, rounded as the prose rounds it, in an output
# of the same notebook, or in its code (a parameter the text repeats).  Numbers that are neither
# are listed here with the reason: facts from the literature, or derived by hand in the prose.
NUMBER = re.compile(
    r"(?<![\w.{])(\d{1,3}(?:,\d{3})+|\d+\.\d+|\d+)(?:\s*\\cdot\s*10\^\{?([-−]?\d+)\}?|\s*(?:\\%|%))?(?![\w.])"
)
NOT_PRINTED = {
    # chapter: {number as written: why it is not printed by the chapter}
    "01_nonlinear_models.ipynb": {r"2\cdot 10^{-16}": "the unit roundoff of double precision, a constant"},
    "07_optimization.ipynb": {
        "0.073": "2/27.4, computed in the sentence from the printed eigenvalue",
        "1.0016": "(800/500)^(1/300), computed in the sentence",
        "3.3": "2(1 + beta), the stability bound derived in the sentence",
        "1.44": "(2 + 2 beta)/(1 + 2 beta), the stability bound derived in the sentence",
    },
}


def _numbers(text):
    """(as written, value, significant digits, is measured-looking) for each number in ``text``."""
    for match in NUMBER.finditer(text):
        mantissa, exponent = match.group(1), match.group(2)
        written = match.group(0)
        percent = written.rstrip().endswith("%")
        plain = mantissa.replace(",", "")
        looks_measured = "." in plain or "," in mantissa or exponent is not None or percent
        value = float(plain) * (10.0 ** int(exponent.replace("−", "-")) if exponent else 1.0)
        digits = len(plain.replace(".", "").lstrip("0")) or 1
        yield written.strip(), value, digits, looks_measured


def _prose(cell):
    text = source(cell)
    text = re.sub(r"\{(cite|ref|numref|py:\w+|doc|eq)\}`[^`]*`", " ", text)  # roles: keys, labels
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = re.sub(r":label: .*", " ", text)
    return text


def _printed_values(path):
    values = []
    for cell in cells(path):
        if cell["cell_type"] != "code":
            continue
        texts = [source(cell)]
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append("".join(output.get("text", "")))
            for key in ("text/plain", "text/html", "text/markdown"):
                texts.append("".join(output.get("data", {}).get(key, "")))
        for text in texts:
            for match in re.finditer(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d*\.?\d+)(?:[eE][-+]?\d+)?", text):
                try:
                    values.append(float(match.group(0).replace(",", "")))
                except ValueError:
                    pass
    return values


def _same_at(value, printed, digits):
    value, printed = abs(value), abs(printed)  # the prose writes "slope $-0.52$" with a TeX minus
    if value == 0:
        return printed == 0
    return float(f"{printed:.{digits}g}") == float(f"{value:.{digits}g}") or float(
        f"{printed * 100:.{digits}g}") == float(f"{value:.{digits}g}")  # 0.88 printed, 88 % written


@pytest.mark.parametrize("path", [*CHAPTERS, *sorted(CHAPTERS[0].parent.parent.glob("benchmarks/*.ipynb"))],
                         ids=lambda p: p.name)
def test_numbers_in_the_prose_are_printed(path):
    printed = _printed_values(path)
    allowed = NOT_PRINTED.get(path.name, {})
    missing = []
    for cell in cells(path):
        if cell["cell_type"] != "markdown":
            continue
        for written, value, digits, looks_measured in _numbers(_prose(cell)):
            if not looks_measured or written in allowed:
                continue
            if not any(_same_at(value, p, digits) for p in printed):
                missing.append(written)
    assert not missing, (f"{path.name}: numbers in the prose that no output or code of the chapter prints "
                         f"(print them, or list them in NOT_PRINTED with the reason): {sorted(set(missing))}")
