"""``.. nnlib-layer-registry::``: the registered layer classes as a list of links (API page).

``Layer.registry`` is a dict filled when nnlib's modules are imported; autodoc would print
its value as one long ``{'AppendOnes': <class ...>, ...}`` line.  This directive imports
nnlib, reads the registry and writes one bullet per class with a cross-reference and the
first line of its docstring, so the list on the page is always the one the tests use.
"""

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


class LayerRegistry(SphinxDirective):
    has_content = False

    def run(self):
        import nnlib  # noqa: F401  (importing the package registers every public layer)
        from nnlib.layers import Layer

        lines = []
        for name, cls in sorted(Layer.registry.items()):
            summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            lines.append(f"* :py:class:`{cls.__module__}.{cls.__qualname__}`" + (f" -- {summary}" if summary else ""))
        container = nodes.container(classes=["nnlib-layer-registry"])
        self.state.nested_parse(StringList(lines, source="Layer.registry"), self.content_offset, container)
        return [container]


def setup(app):
    app.add_directive("nnlib-layer-registry", LayerRegistry)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
