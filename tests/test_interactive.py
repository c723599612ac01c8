"""Tests of nnlib.interactive: frames, the static HTML control, and the live widget."""

import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnlib.interactive import interactive_figure  # noqa: E402


def plot_wave(frequency, kind):
    x = np.linspace(0, 1, 40)
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot(x, np.sin(frequency * x) if kind == "sin" else np.cos(frequency * x))
    return fig


def test_one_frame_per_combination_and_distinct_pictures():
    fig = interactive_figure(plot_wave, frequency=[1.0, 5.0, 9.0], kind=["sin", "cos"])
    assert fig.render_all() == 6
    assert len(set(fig.frames.values())) == 6, "different parameters must give different pictures"
    assert repr(fig) == "InteractiveFigure(frequency: 3 values, kind: 2 values; 6 frames)"


def test_static_html_has_a_control_per_parameter_and_every_frame():
    fig = interactive_figure(plot_wave, frequency=[1.0, 5.0], kind=["sin", "cos"], initial={"kind": "cos"})
    page = fig.to_html()
    assert page.count('type="range"') == 1
    assert page.count("<select") == 1
    assert '<option value="1" selected>cos</option>' in page
    # all four frames are embedded as data URIs, keyed by value indices
    assert len(re.findall(r'"\d-\d": "data:image/png;base64,', page)) == 4
    assert "<script>" in page and "addEventListener" in page


def test_labels_name_the_controls_in_words():
    pytest.importorskip("ipywidgets")
    fig = interactive_figure(plot_wave, frequency=[1.0, 5.0], kind=["sin", "cos"], labels={"frequency": "frequency ω"})
    page = fig.to_html()
    assert 'aria-label="frequency ω"' in page and "frequency ω = " in page
    assert "kind = " in page  # unlabelled parameters keep their names
    assert [c.description for c in fig.widget().controls] == ["frequency ω", "kind"]
    assert repr(fig) == "InteractiveFigure(frequency: 2 values, kind: 2 values; 4 frames)"


def test_element_id_is_deterministic():
    a = interactive_figure(plot_wave, frequency=[1.0, 2.0], kind=["sin"])
    b = interactive_figure(plot_wave, frequency=[1.0, 2.0], kind=["sin"])
    c = interactive_figure(plot_wave, frequency=[1.0, 3.0], kind=["sin"])
    assert a._element_id() == b._element_id() != c._element_id()


def test_live_widget_follows_its_controls():
    pytest.importorskip("ipywidgets")
    fig = interactive_figure(plot_wave, frequency=[1.0, 5.0], kind=["sin", "cos"])
    box = fig.widget()
    before = box.image.value
    box.controls[0].value = 1
    assert box.image.value != before
    assert box.image.value == fig.render((1, 0))


def test_mimebundle_outside_a_kernel_is_static():
    bundle = interactive_figure(plot_wave, frequency=[1.0], kind=["sin"])._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "at least one parameter"),
        ({"frequency": []}, "non-empty sequence"),
        ({"frequency": "abc"}, "non-empty sequence"),
        ({"frequency": [1.0], "initial": {"frequency": 2.0}}, "must be one of"),
        ({"frequency": [1.0], "initial": {"width": 2}}, "unknown parameters"),
        ({"frequency": [1.0], "labels": {"width": "layer width"}}, "labels names unknown parameters"),
        ({"frequency": [1.0], "labels": {"frequency": ""}}, "non-empty string"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        interactive_figure(plot_wave, **kwargs)


def test_plot_must_be_callable():
    with pytest.raises(ValueError, match="callable"):
        interactive_figure("not a function", frequency=[1.0])
