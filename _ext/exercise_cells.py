"""Exercise cells written as plain Markdown in the notebooks, sphinx-exercise blocks in the book.

A chapter notebook is read in JupyterLab, JupyterLite and as a student edition, where
MyST directives would show as raw text.  So exercises are written with cell tags (the
convention is in the README, "Writing an exercise"):

``exercise`` (Markdown)
    ``### Exercise: <title>`` then the statement; the label is ``metadata.nmdl.label``.
``solution`` (Markdown or code), ``answer`` (code: the graded functions)
    The solution; a contiguous run of such cells follows its exercise.
``check`` (code)
    The self-check; stays visible, outside the folded solution.
``objectives``, ``key-points`` (Markdown)
    A chapter's learning objectives (``### Learning objectives`` then a list) and its
    summary (``## Key points`` then a list): shown alike in every chapter, as a "tip"
    box and as a section whose list sits in a box (``_theme/nnlib.css``).

At build time, before MyST-NB parses a notebook (Sphinx's ``source-read`` event hands
over the notebook's JSON text), this extension rewrites each ``exercise`` cell into an
``{exercise}`` directive and wraps each run of ``solution``/``answer`` cells in a folded
``{solution-start}``/``{solution-end}`` pair, inserting the Markdown cells that hold
those two directives.  The notebook file itself is not changed.
"""

import json
import re

EXERCISE, SOLUTION, ANSWER = "exercise", "solution", "answer"
OBJECTIVES, KEY_POINTS = "objectives", "key-points"
HEADING = re.compile(r"^#{1,6}\s*Exercise\s*[:.]?\s*(?P<title>.*)$")
ANY_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s*(?P<title>.*)$")


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def source_text(cell):
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def markdown_cell(text, cell_id):
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "exercise"


def exercise_directive(cell, docname):
    """The ``{exercise}`` directive for an ``exercise`` cell, and its label."""
    lines = source_text(cell).strip("\n").split("\n")
    match = HEADING.match(lines[0].strip()) if lines else None
    title = match.group("title").strip() if match else ""
    body = "\n".join(lines[1:] if match else lines).strip("\n")
    label = cell.get("metadata", {}).get("nmdl", {}).get("label") or f"ex-{slug(docname)}-{slug(title)}"
    # A fence longer than any in the body, so code blocks inside the statement survive.
    fence = "`" * max(4, 1 + max((len(m) for m in re.findall(r"`{3,}", body)), default=0))
    text = f"{fence}{{exercise}} {title}\n:label: {label}\n\n{body}\n{fence}\n"
    return text, label


def fenced(directive, body, options=""):
    """A MyST directive around ``body`` with a fence longer than any inside it."""
    fence = "`" * max(4, 1 + max((len(m) for m in re.findall(r"`{3,}", body)), default=0))
    return f"{fence}{{{directive}}}{options}\n{body}\n{fence}\n"


def summary_box(cell, tag):
    """Learning objectives as a tip box titled by the cell's heading; key points as a
    section (the heading stays, so the page's table of contents lists it) with a boxed body."""
    lines = source_text(cell).strip("\n").split("\n")
    match = ANY_HEADING.match(lines[0].strip()) if lines else None
    default = "Learning objectives" if tag == OBJECTIVES else "Key points"
    title = match.group("title").strip() if match else default
    body = "\n".join(lines[1:] if match else lines).strip("\n")
    if tag == OBJECTIVES:
        return fenced("admonition", body, f" {title}\n:class: tip nnlib-objectives\n")
    heading = lines[0] if match else f"## {title}"
    return f"{heading}\n\n" + fenced("container", body, " nnlib-key-points\n")


def convert(notebook, docname):
    """Rewrite the exercise and solution cells of a notebook (a dict) in place."""
    cells, label, in_solution = [], None, False
    for cell in notebook.get("cells", []):
        cell_tags = tags(cell)
        is_solution = SOLUTION in cell_tags or ANSWER in cell_tags
        if in_solution and not is_solution:
            cells.append(markdown_cell("```{solution-end}\n```\n", f"{label}-solution-end"))
            in_solution = False
        summary = next((tag for tag in (OBJECTIVES, KEY_POINTS) if tag in cell_tags), None)
        if summary and cell.get("cell_type") == "markdown":
            cell = dict(cell, source=summary_box(cell, summary))
        elif EXERCISE in cell_tags and cell.get("cell_type") == "markdown":
            text, label = exercise_directive(cell, docname)
            cell = dict(cell, source=text)
        elif is_solution and not in_solution:
            if label is None:
                raise ValueError(f"{docname}: a cell tagged solution/answer comes before any exercise cell")
            cells.append(markdown_cell(f"```{{solution-start}} {label}\n:class: dropdown\n```\n", f"{label}-solution-start"))
            in_solution = True
        cells.append(cell)
    if in_solution:
        cells.append(markdown_cell("```{solution-end}\n```\n", f"{label}-solution-end"))
    notebook["cells"] = cells
    return notebook


def on_source_read(app, docname, source):
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    text = source[0]
    if not any(f'"{tag}"' in text for tag in (EXERCISE, SOLUTION, ANSWER, OBJECTIVES, KEY_POINTS)):
        return
    notebook = json.loads(text)
    source[0] = json.dumps(convert(notebook, docname), ensure_ascii=False)


def setup(app):
    app.connect("source-read", on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
