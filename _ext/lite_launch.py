"""A "JupyterLite" launch button on the notebook pages of the book.

sphinx-book-theme has launch buttons (the rocket in the page header) for Binder,
JupyterHub, Colab and JupyterLite, but it shows them only when the repository
URL is configured, and its JupyterLite link points to an external site.  This
extension adds an entry "JupyterLite" that opens the page's notebook in the
JupyterLite site that ``tasks.py`` builds into the book itself (``lite/`` next
to ``index.html``, see ``build_lite`` in ``tasks.py``): the link is relative,
so it works wherever the book is served.  If the theme already shows launch
buttons (once ``_config.yml`` has ``repository.url`` and ``launch_buttons``),
the entry joins that menu instead of adding a second one.

Configuration (``sphinx: config:`` in ``_config.yml``):

``lite_launch_dir``
    Folder of the JupyterLite site inside the HTML output (default ``lite``).
``lite_launch_pages``
    ``fnmatch`` patterns of the pages that get the button (default
    ``["chapters/*"]``): exactly the notebooks ``tasks.py`` puts into the site.
"""

from fnmatch import fnmatch
from urllib.parse import quote

LABEL = "launch-jupyterlite"


def lite_url(pathto, lite_dir, pagename):
    """Relative URL of JupyterLab in the lite site, opening ``pagename``'s notebook."""
    return f"{pathto(f'{lite_dir}/lab/index.html', 1)}?path={quote(pagename + '.ipynb')}"


def add_lite_button(app, pagename, templatename, context, doctree):
    if context.get("page_source_suffix") != ".ipynb":
        return
    if not any(fnmatch(pagename, pattern) for pattern in app.config.lite_launch_pages):
        return
    buttons = context.get("header_buttons")
    if buttons is None:  # not sphinx-book-theme
        return
    button = {
        "type": "link",
        "text": "JupyterLite",
        "tooltip": "Run this notebook in the browser (JupyterLite, Python by Pyodide)",
        "icon": "_static/images/logo_jupyterlite.svg",
        "url": lite_url(context["pathto"], app.config.lite_launch_dir.strip("/"), pagename),
        "label": LABEL,
    }
    for group in buttons:
        if group.get("label") == "launch-buttons":  # the theme's own launch menu
            group["buttons"] = [b for b in group["buttons"] if b.get("text") != "JupyterLite"] + [button]
            return
    # No launch menu yet: add one where the theme puts it (first in the header).
    buttons.insert(0, {
        "type": "group",
        "tooltip": "Launch interactive content",
        "icon": "fas fa-rocket",
        "buttons": [button],
        "label": "launch-buttons",
    })


def setup(app):
    app.add_config_value("lite_launch_dir", "lite", "html")
    app.add_config_value("lite_launch_pages", ["chapters/*"], "html")
    # After sphinx-book-theme's prep_header_buttons (500) and its launch buttons (501).
    app.connect("html-page-context", add_lite_button, priority=502)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
