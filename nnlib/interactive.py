"""Interactive figures that respond both with and without a running kernel.

A plain ``ipywidgets.interact`` slider is dead on a static web page: moving it
needs Python.  :func:`interactive_figure` therefore renders every combination
of the parameter values once (frames) and displays

* in JupyterLab, Binder or Colab (a live kernel with ipywidgets): widgets that
  call back into Python and show the chosen frame, and
* everywhere else, in particular in the rendered book: a small self-contained
  HTML/JavaScript control that swaps precomputed images, no kernel needed.

Both live in one output (a MIME bundle), and the front end picks what it can
show.  The book's configuration ranks the HTML version first for web pages.
"""

import base64
import hashlib
import html
import io
import itertools
import json
from numbers import Number

import numpy as np

__all__ = [
    "InteractiveFigure",
    "interactive_figure",
]


def _format_value(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


class InteractiveFigure:
    """A figure with one control per parameter; see :func:`interactive_figure`.

    Attributes
    ----------
    names : list of str
        Parameter names in the order of the controls.
    labels : list of str
        What each control is called on the page (the parameter name unless
        ``labels`` said otherwise).
    values : list of list
        The values each control steps through.
    frames : dict
        PNG bytes keyed by the tuple of value indices.
    """

    def __init__(self, plot, params, initial=None, dpi=72, title=None, labels=None):
        if not callable(plot):
            raise ValueError(f"plot must be callable; got {type(plot).__name__}")
        if not params:
            raise ValueError("interactive_figure needs at least one parameter, e.g. width=[2, 4, 8]")
        self.plot = plot
        self.names = list(params)
        self.values = []
        for name, vals in params.items():
            vals = list(vals) if not isinstance(vals, str) else None
            if not vals:
                raise ValueError(
                    f"parameter {name!r} must be a non-empty sequence of values; got {params[name]!r}"
                )
            self.values.append(vals)
        self.dpi = dpi
        self.title = title
        labels = dict(labels or {})
        unknown = set(labels) - set(self.names)
        if unknown:
            raise ValueError(f"labels names unknown parameters {sorted(unknown)}; known: {self.names}")
        for name, text in labels.items():
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"the label of {name!r} must be a non-empty string; got {text!r}")
        self.labels = [labels.get(name, name) for name in self.names]
        initial = dict(initial or {})
        unknown = set(initial) - set(self.names)
        if unknown:
            raise ValueError(f"initial names unknown parameters {sorted(unknown)}; known: {self.names}")
        self.initial_index = []
        for name, vals in zip(self.names, self.values):
            if name in initial:
                if initial[name] not in vals:
                    raise ValueError(f"initial value of {name!r} must be one of {vals}; got {initial[name]!r}")
                self.initial_index.append(vals.index(initial[name]))
            else:
                self.initial_index.append(0)
        self.frames = {}

    # -- rendering -------------------------------------------------------------
    def render(self, index):
        """PNG bytes of the frame for a tuple of value indices (cached)."""
        index = tuple(index)
        if index not in self.frames:
            import matplotlib.pyplot as plt

            kwargs = {name: vals[i] for name, vals, i in zip(self.names, self.values, index)}
            with plt.ioff():
                result = self.plot(**kwargs)
                fig = result if hasattr(result, "savefig") else plt.gcf()
                buffer = io.BytesIO()
                # No metadata: the bytes then depend on the picture only.
                fig.savefig(buffer, format="png", dpi=self.dpi, metadata={"Software": None})
                plt.close(fig)
            self.frames[index] = buffer.getvalue()
        return self.frames[index]

    def render_all(self):
        """Render every combination of parameter values; return the number of frames."""
        for index in itertools.product(*[range(len(v)) for v in self.values]):
            self.render(index)
        return len(self.frames)

    @property
    def n_frames(self):
        """The number of frames, the product of the numbers of values of the controls."""
        return int(np.prod([len(v) for v in self.values]))

    # -- static HTML -----------------------------------------------------------
    def _element_id(self):
        key = json.dumps([self.names, [[_format_value(v) for v in vals] for vals in self.values],
                          getattr(self.plot, "__qualname__", "plot")])
        return "nnlib-fig-" + hashlib.sha1(key.encode()).hexdigest()[:10]

    def to_html(self):
        """Self-contained HTML/JS: controls that swap precomputed PNG frames."""
        self.render_all()
        fid = self._element_id()
        frames = {
            "-".join(map(str, index)): "data:image/png;base64," + base64.b64encode(png).decode()
            for index, png in sorted(self.frames.items())
        }
        labels = [[_format_value(v) for v in vals] for vals in self.values]
        controls = []
        for k, (name, vals) in enumerate(zip(self.labels, labels)):
            i0 = self.initial_index[k]
            label = html.escape(name)
            if all(isinstance(v, Number) for v in self.values[k]):
                control = (
                    f'<input type="range" data-k="{k}" min="0" max="{len(vals) - 1}" step="1" '
                    f'value="{i0}" aria-label="{label}" style="vertical-align:middle;width:12em">'
                )
            else:
                options = "".join(
                    f'<option value="{i}"{" selected" if i == i0 else ""}>{html.escape(v)}</option>'
                    for i, v in enumerate(vals)
                )
                control = f'<select data-k="{k}" aria-label="{label}">{options}</select>'
            controls.append(
                f'<label style="margin-right:1.5em;white-space:nowrap">{label} = '
                f'<span class="nnlib-value" data-k="{k}">{html.escape(vals[i0])}</span> {control}</label>'
            )
        initial_key = "-".join(map(str, self.initial_index))
        title = f"<div><b>{html.escape(self.title)}</b></div>" if self.title else ""
        script = f"""
(function() {{
  var root = document.getElementById("{fid}");
  var frames = {json.dumps(frames)};
  var labels = {json.dumps(labels)};
  var inputs = root.querySelectorAll("input[data-k], select[data-k]");
  function update() {{
    var key = [];
    inputs.forEach(function(el) {{
      var k = +el.dataset.k, i = +el.value;
      key[k] = i;
      root.querySelector('span.nnlib-value[data-k="' + k + '"]').textContent = labels[k][i];
    }});
    root.querySelector("img.nnlib-frame").src = frames[key.join("-")];
  }}
  inputs.forEach(function(el) {{
    el.addEventListener("input", update);
    el.addEventListener("change", update);
  }});
}})();"""
        return (
            f'<div id="{fid}" class="nnlib-interactive">{title}'
            f'<div class="nnlib-controls">{"".join(controls)}</div>'
            f'<img class="nnlib-frame" alt="interactive figure" src="{frames[initial_key]}">'
            f"<script>{script}</script></div>"
        )

    # -- live widgets ----------------------------------------------------------
    def widget(self):
        """ipywidgets version: one control per parameter and an Image that follows them."""
        import ipywidgets as widgets

        controls = []
        for name, vals, i0 in zip(self.labels, self.values, self.initial_index):
            options = [(_format_value(v), i) for i, v in enumerate(vals)]
            style = {"description_width": "initial"}  # the whole label, not the first few letters
            if all(isinstance(v, Number) for v in vals):
                control = widgets.SelectionSlider(options=options, value=i0, description=name,
                                                  continuous_update=True, style=style)
            else:
                control = widgets.Dropdown(options=options, value=i0, description=name, style=style)
            controls.append(control)
        image = widgets.Image(value=self.render(self.initial_index), format="png")

        def update(_change=None):
            image.value = self.render([c.value for c in controls])

        for control in controls:
            control.observe(update, names="value")
        box = widgets.VBox([widgets.HBox(controls), image])
        box.controls, box.image = controls, image
        return box

    def __repr__(self):
        sizes = ", ".join(f"{n}: {len(v)} values" for n, v in zip(self.names, self.values))
        return f"InteractiveFigure({sizes}; {self.n_frames} frames)"

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self), "text/html": self.to_html()}
        if _live_kernel():
            # The widget contributes only its view; our text/plain stays deterministic for nbval.
            view = self.widget()._repr_mimebundle_()
            view = view[0] if isinstance(view, tuple) else view
            bundle["application/vnd.jupyter.widget-view+json"] = view[
                "application/vnd.jupyter.widget-view+json"
            ]
        return bundle


def _live_kernel():
    """True inside an IPython kernel that has ipywidgets available."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def interactive_figure(plot, *, initial=None, dpi=72, title=None, labels=None, **params):
    """Make a figure with a control for each parameter that works with and without a kernel.

    Parameters
    ----------
    plot : callable
        ``plot(**values)`` draws one frame with matplotlib, either returning the
        Figure or drawing on the current figure.
    initial : dict, optional
        Value shown first for some parameters (default: the first value of each).
    dpi : int, default 72
        Resolution of the frames; keeps the page and the notebook small.
    title : str, optional
        Heading shown above the controls.
    labels : dict, optional
        What to call a control on the page instead of its parameter name, e.g.
        ``{"lam": "regularization λ"}`` (a parameter name is a Python name; a
        reader should see words).
    **params : sequence
        For each keyword argument of ``plot``, the values its control steps
        through: numbers give a slider, anything else a drop-down list.

    Returns
    -------
    InteractiveFigure
        Displaying it (last expression of a cell) renders every frame once and
        shows the controls.

    Examples
    --------
    >>> def plot(width, activation):
    ...     ...  # draw something that depends on width and activation
    >>> interactive_figure(plot, width=[2, 8, 32], activation=["tanh", "relu"])  # doctest: +SKIP
    """
    return InteractiveFigure(plot, params, initial=initial, dpi=dpi, title=title, labels=labels)
