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

At build time, before MyST-NB parses a notebook (Sphinx's ``source-read`` event hands
over the notebook's JSON text), this extension rewrites each ``exercise`` cell into an
``{exercise}`` directive and wraps each run of ``solution``/``answer`` cells in a folded
``{solution-start}``/``{solution-end}`` pair, inserting the Markdown cells that hold
those two directives.  The notebook file itself is not changed.
"""

import json
import re

EXERCISE, SOLUTION, ANSWER = "exercise", "solution", "answer"
HEADING = re.compile(r"^#{1,6}\s*Exercise\s*[:.]?\s*(?P<title>.*)$")


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


def convert(notebook, docname):
    """Rewrite the exercise and solution cells of a notebook (a dict) in place."""
    cells, label, in_solution = [], None, False
    for cell in notebook.get("cells", []):
        cell_tags = tags(cell)
        is_solution = SOLUTION in cell_tags or ANSWER in cell_tags
        if in_solution and not is_solution:
            cells.append(markdown_cell("```{solution-end}\n```\n", f"{label}-solution-end"))
            in_solution = False
        if EXERCISE in cell_tags and cell.get("cell_type") == "markdown":
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
    if '"exercise"' not in text and '"solution"' not in text and '"answer"' not in text:
        return
    notebook = json.loads(text)
    source[0] = json.dumps(convert(notebook, docname), ensure_ascii=False)


def setup(app):
    app.connect("source-read", on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
