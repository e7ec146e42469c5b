"""The widgets and the figures they redraw: behaviour only (no wall-clock time: latency is `make bench`).

- every figure of lottolib.plots lives outside pyplot and displays itself as a PNG;
- run in a real kernel (nbclient), a widget cell outputs the widget and nothing else, and a static
  twin cell (the figure as the cell's last expression) outputs its image;
- each explorer draws on creation, states its caps in the note, reaches every k through a log grid
  and draws an image, with all its data on the axes, at both ends of every slider; a construction
  that fails says FAILED.
"""

import io
import math
import struct

import matplotlib
import nbformat
import numpy as np
import pytest
import torch
from matplotlib import pyplot
from nbclient import NotebookClient
from PIL import Image

matplotlib.use("Agg")

from lottolib import plots, widgets
from lottolib.style import check_visible, hidden_data

PNG = b"\x89PNG\r\n\x1a\n"
EXPLORERS = ["one_weight_explorer", "neuron_explorer", "layer_explorer", "deep_explorer",
             "neuron_pruning_explorer", "subset_sum_explorer"]
CAPS = {"one_weight_explorer": {"k": 20_000}, "neuron_explorer": {"k": 5_000}, "layer_explorer": {"k": 2_000},
        "deep_explorer": {"k": 500}, "neuron_pruning_explorer": {"hidden_width": 1024, "d": 12},
        "subset_sum_explorer": {"k": 128}}


@pytest.fixture(scope="module")
def explorers():
    """Each explorer built once (the deep one trains its digits target), in the test's own process."""
    built = {name: getattr(widgets, name)() for name in EXPLORERS}
    assert not pyplot.get_fignums(), "an explorer registered a figure with pyplot"
    return built


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG
    return struct.unpack(">II", data[16:24])


def _titles(figure) -> str:
    return " | ".join([text.get_text() for text in figure.texts] + [axis.get_title() for axis in figure.axes])


def _slider_values(slider) -> list:
    """The values a reader can reach with ``slider``, computed from its widget attributes."""
    if hasattr(slider, "options"):
        return [value for _, value in slider.options]
    if hasattr(slider, "base"):  # FloatLogSlider: base ** (min + i * step)
        count = round((slider.max - slider.min) / slider.step)
        return [slider.base ** (slider.min + i * slider.step) for i in range(count + 1)]
    if isinstance(slider.step, int):
        return list(range(slider.min, slider.max + 1, slider.step))
    count = round((slider.max - slider.min) / slider.step)
    return [slider.min + i * slider.step for i in range(count + 1)]


# --- figures outside pyplot ---------------------------------------------------------------------------

FIGURE_CALLS = {
    "one_weight_figure": lambda: plots.one_weight_figure(k=200, w=0.6, eps=0.02),
    "neuron_figure": lambda: plots.neuron_figure(k=50, eps=0.05),
    "layer_figure": lambda: plots.layer_figure(k=400, eps=0.05),
    "neuron_pruning_figure": lambda: plots.neuron_pruning_figure(d=8, hidden_width=512),
    "subset_sum_figure": lambda: plots.subset_sum_figure(k=48, eps=0.01),
    "masks_figure": lambda: plots.masks_figure(
        torch_layer(torch.tensor([[0.5, -0.2, 0.9], [0.1, 0.4, -0.7]], dtype=torch.float64), k=8, seed=4)),
    "pruned_block_diagram": lambda: plots.pruned_block_diagram(
        torch_layer(torch.tensor([[0.5, -0.3], [0.2, 0.7]], dtype=torch.float64), k=4, seed=3)),
}


def torch_layer(target, *, k, seed):
    from lottolib import prune_layer

    return prune_layer(target, eps=0.5, k=k, seed=seed)


@pytest.mark.parametrize("name", sorted(FIGURE_CALLS))
def test_figures_stay_out_of_pyplot_and_show_themselves_as_png(name):
    pyplot.close("all")
    figure = FIGURE_CALLS[name]()
    assert isinstance(figure, plots.BookFigure)
    assert not pyplot.get_fignums(), f"{name} registered a figure with pyplot (a frozen copy would show in Jupyter)"
    width, height = _png_size(figure._repr_png_())
    assert width > 300 and height > 150
    check_visible(figure)  # every point, bar and line inside its axes


# --- in a real kernel ---------------------------------------------------------------------------------

def test_widget_cells_show_the_widget_only_and_twin_cells_their_figure():
    """Widget cells as in the chapters (the inline backend active, the book style set): one output,
    the widget. Twin cells, with and without pyplot: the figure as image/png."""
    twin = "L.plots.one_weight_figure(k=200, w=0.6, eps=0.02)"
    sources = [
        "import torch\nimport lottolib as L\nimport lottolib.plots\nimport lottolib.widgets",
        twin,  # pyplot never imported: the figure's own _repr_png_
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nfrom lottolib.style import use_book_style\n"
        "use_book_style()",
        *[f"L.widgets.{name}()" for name in EXPLORERS],
        twin,  # the inline backend's Figure formatter
        "small = L.prune_layer(torch.tensor([[0.5, -0.2, 0.9], [0.1, 0.4, -0.7]], dtype=torch.float64),"
        " eps=0.5, k=8, seed=4)\nL.plots.masks_figure(small)",
        "from IPython.display import display\ndisplay(L.plots.pruned_block_diagram(small))\nprint('done')",
    ]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    NotebookClient(notebook, timeout=600, kernel_name="python3", store_widget_state=False).execute()
    cells = notebook.cells
    for cell in cells[3:3 + len(EXPLORERS)]:
        kinds = [(output.output_type, sorted(output.get("data", {}))) for output in cell.outputs]
        assert len(cell.outputs) == 1, f"{cell.source}: outputs {kinds}, expected the widget only"
        data = cell.outputs[0].get("data", {})
        assert cell.outputs[0].output_type == "execute_result", f"{cell.source}: {kinds}"
        assert "application/vnd.jupyter.widget-view+json" in data, f"{cell.source}: {kinds}"
        assert "image/png" not in data
        assert "<Figure size" not in str(cell.outputs), f"{cell.source}: a figure's text in the widget cell"
    for cell in (cells[1], cells[-3], cells[-2], cells[-1]):
        images = [output for output in cell.outputs if "image/png" in output.get("data", {})]
        assert len(images) == 1, f"{cell.source}: {[output.output_type for output in cell.outputs]}"
    assert cells[-1].outputs[-1].get("text") == "done\n"


# --- explorers in this process ------------------------------------------------------------------------

@pytest.mark.parametrize("name", EXPLORERS)
def test_explorer_draws_its_image_on_creation_with_the_defaults(explorers, name):
    explorer = explorers[name]
    assert explorer.children[1] is explorer.image
    assert explorer.image.value[:8] == PNG
    # the sliders start where the static twin in the book is drawn: at the view's defaults
    defaults = {key: explorer.view.defaults[key] for key in explorer.sliders}
    assert {key: slider.value for key, slider in explorer.sliders.items()} == pytest.approx(defaults)
    assert "failed" not in explorer.note.value


@pytest.mark.parametrize("name", EXPLORERS)
def test_note_states_the_caps_the_sliders_have(explorers, name):
    explorer = explorers[name]
    assert explorer.children[2] is explorer.note
    for key, cap in CAPS[name].items():
        assert max(_slider_values(explorer.sliders[key])) == cap
        if key != "d":
            assert f"capped at {cap:,}" in explorer.note.value
    if "eps" in explorer.sliders:
        assert _slider_values(explorer.sliders["eps"])[::40] == pytest.approx([1e-4, 1.0])
        assert "ε from 10⁻⁴ to 1" in explorer.note.value
    if "d" in explorer.sliders:
        assert _slider_values(explorer.sliders["d"]) == list(range(2, 13))
        assert "d runs from 2 to 12" in explorer.note.value


@pytest.mark.parametrize("name", EXPLORERS)
def test_no_slider_redraws_while_dragged(explorers, name):
    assert all(slider.continuous_update is False for slider in explorers[name].sliders.values())


@pytest.mark.parametrize("name", [name for name in EXPLORERS if "k" in CAPS[name]] + ["neuron_pruning_explorer"])
def test_width_sliders_reach_every_width_within_a_sixth(explorers, name):
    """Every integer width from the smallest to the cap has a slider value within a factor √(4/3) ≈ 1.155
    (exactly, below 10), with few enough positions to pick each one on a ~200 px track (≥ 4 px each)."""
    key = "hidden_width" if name == "neuron_pruning_explorer" else "k"
    slider = explorers[name].sliders[key]
    values = _slider_values(slider)
    assert values == sorted(set(values)) and all(isinstance(value, int) for value in values)
    assert len(values) <= 50
    assert [label for label, _ in slider.options] == [f"{value:,}" for value in values]  # the readout
    for wanted in range(values[0], values[-1] + 1):
        nearest = min(values, key=lambda value: abs(math.log(value / wanted)))
        if wanted <= 10:
            assert nearest == wanted
        assert max(nearest / wanted, wanted / nearest) <= math.sqrt(4 / 3) + 1e-9, (wanted, nearest)


def test_log_grid():
    assert widgets.log_grid(1, 20) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20]
    assert widgets.log_grid(30, 130, include=[48]) == [30, 40, 48, 50, 60, 80, 100, 120, 130]
    assert widgets.log_grid(7, 7) == [7]
    for low, high, include in ((0, 5, ()), (6, 5, ()), (1, 100, (101,))):
        with pytest.raises(ValueError, match="log_grid"):
            widgets.log_grid(low, high, include=include)


@pytest.mark.parametrize("name", EXPLORERS)
def test_updates_at_both_ends_of_every_slider_draw_an_image(explorers, name):
    explorer = explorers[name]
    defaults = {key: slider.value for key, slider in explorer.sliders.items()}
    try:
        for key, slider in explorer.sliders.items():
            for end in (_slider_values(slider)[0], _slider_values(slider)[-1]):
                explorer.image.value = b""
                slider.value = end
                if slider.value == defaults[key]:  # no change, no update: draw it on purpose
                    explorer.redraw()
                assert explorer.image.value[:8] == PNG, f"{name}: no image at {key}={end}"
                assert "failed" not in explorer.note.value, explorer.note.value
                assert not hidden_data(explorer.view.figure), f"{name} at {key}={end}: data off the axes"
            slider.value = defaults[key]
    finally:
        for key, slider in explorer.sliders.items():
            slider.value = defaults[key]


def test_explorer_reports_an_update_that_raises(explorers, monkeypatch):
    explorer = explorers["layer_explorer"]
    before = explorer.image.value

    def refuse(**values):
        raise ValueError("k too large for this machine")

    monkeypatch.setattr(explorer.view, "update", refuse)
    explorer.redraw()
    assert "update failed: ValueError: k too large for this machine" in explorer.note.value
    assert explorer.image.value == before
    monkeypatch.undo()
    explorer.redraw()
    assert "failed" not in explorer.note.value


@pytest.mark.parametrize(("view", "failing", "succeeding"), [
    (plots.OneWeightView, {"k": 3, "w": 0.95, "eps": 1e-4}, {"k": 2000, "w": 0.5, "eps": 0.1}),
    (plots.NeuronView, {"k": 1, "eps": 1e-4}, {"k": 50, "eps": 0.5}),
    (plots.LayerView, {"k": 1, "eps": 1e-4}, {"k": 400, "eps": 0.5}),
    (plots.SubsetSumView, {"k": 1, "eps": 1e-4}, {"k": 48, "eps": 0.9}),
])
def test_title_says_failed_exactly_when_the_construction_fails(view, failing, succeeding):
    figure_view = view()
    assert "FAILED" in _titles(figure_view.update(**{**view.defaults, **failing}).figure)
    assert "FAILED" not in _titles(figure_view.update(**{**view.defaults, **succeeding}).figure)


def test_one_weight_title_gives_the_simulated_success_rate_for_every_eps():
    """The view keeps the simulated errors across ε changes: its rate must still be the library's."""
    from lottolib.probability import empirical_success_probability
    from lottolib.seeds import derived

    view = plots.OneWeightView()
    for eps in (0.02, 0.2, 0.002, 0.02):
        title = view.update(k=500, w=0.3, eps=eps).figure.texts[0].get_text()
        expected = empirical_success_probability(0.3, eps, 500, 400, derived(0, "one weight trials"))
        assert f"{expected:.3f} over 400 seeds" in title


def test_deep_title_says_failed_when_not_certified(explorers):
    view = explorers["deep_explorer"].view
    assert "FAILED" in _titles(view.update(k=1, eps=1e-4).figure)
    assert "FAILED" not in _titles(view.update(k=300, eps=1.0).figure)
    view.update(**view.defaults)


def _full_draw(view_class, dpi, values):
    """The figure drawn the ordinary way (every artist, in matplotlib's order), as an RGB array."""
    view = view_class()
    view.figure.set_dpi(dpi)
    view.update(**{**view_class.defaults, **values})
    view.figure.canvas.draw()
    return np.asarray(view.figure.canvas.buffer_rgba())[..., :3].astype(int)


@pytest.mark.parametrize(("view_class", "changes"), [
    (plots.OneWeightView, [{"k": 20_000, "w": -0.9, "eps": 0.3}, {"k": 3, "w": 0.1}]),
    (plots.NeuronView, [{"k": 5_000}, {"k": 1, "eps": 1e-4}]),
    (plots.LayerView, [{"k": 2_000}, {"k": 1}]),
    (plots.NeuronPruningView, [{"d": 12, "hidden_width": 1024}, {"d": 2, "hidden_width": 16}]),
    (plots.SubsetSumView, [{"k": 128}, {"k": 1, "eps": 1.0}]),
])
def test_widget_png_redraws_only_what_changed_and_matches_a_full_draw(view_class, changes):
    """View.png keeps a background and draws the changed artists over it: the same picture as a
    full draw, up to grid lines under markers and bars (< 1.5% of the pixels), after every change."""
    view = view_class()
    view.png(widgets.WIDGET_DPI)
    for values in changes:
        fast = np.asarray(Image.open(io.BytesIO(view.update(**{**view_class.defaults, **values}).png(widgets.WIDGET_DPI)))
                          .convert("RGB")).astype(int)
        full = _full_draw(view_class, widgets.WIDGET_DPI, values)
        assert fast.shape == full.shape
        assert (np.abs(fast - full).max(axis=2) > 40).mean() < 0.015, values


def test_widget_png_redraws_the_background_when_static_axes_change(explorers):
    view = explorers["deep_explorer"].view
    view.png(widgets.WIDGET_DPI)
    try:
        view.left.set_ylim(1e-2, 1e2)  # a static axis changes: the cached background is stale
        fast = np.asarray(Image.open(io.BytesIO(view.png(widgets.WIDGET_DPI))).convert("RGB")).astype(int)
        view.figure.canvas.draw()
        full = np.asarray(view.figure.canvas.buffer_rgba())[..., :3].astype(int)
        assert (np.abs(fast - full).max(axis=2) > 40).mean() < 0.015
    finally:
        view.left.set_ylim(1e-4, 10)


def test_time_update_renders_like_the_widget():
    # what make bench times is one widget update: the view ends up drawn with the given values
    # (its duration is measured by bench/, never asserted here)
    timed, updated = plots.SubsetSumView(), plots.SubsetSumView()
    widgets.time_update(timed, k=20)
    with widgets.one_thread():
        expected = updated.update(**{**updated.defaults, "k": 20}).png(widgets.WIDGET_DPI)
    assert timed.png(widgets.WIDGET_DPI) == expected
    assert widgets.render_png(timed.figure)[:8] == PNG
    assert torch.get_default_dtype() == torch.float32  # no view changed the global default
