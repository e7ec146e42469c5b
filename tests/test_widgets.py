import statistics

import matplotlib
import pytest

matplotlib.use("Agg")

from lottolib import plots, widgets


@pytest.mark.parametrize(
    ("view", "extreme"),
    [(plots.OneWeightView, {"k": 20_000, "w": 1.0}), (plots.NeuronView, {"k": 5_000}), (plots.LayerView, {"k": 2_000}),
     (plots.NeuronPruningView, {"d": 12, "width": 1024}), (plots.SubsetSumView, {"k": 128, "eps": 1e-4})],
)
def test_widget_updates_stay_under_a_second_even_at_the_caps(view, extreme):
    figure_view = view()
    widgets.time_update(figure_view)  # the first draw builds fonts and ticks
    times = [widgets.time_update(figure_view, **extreme) for _ in range(3)]
    assert statistics.median(times) < 1.0


@pytest.mark.parametrize("explorer", [widgets.one_weight_explorer, widgets.neuron_explorer, widgets.layer_explorer,
                                      widgets.neuron_pruning_explorer, widgets.subset_sum_explorer])
def test_explorer_draws_its_image_on_creation(explorer):
    box = explorer()
    image = box.children[1]
    assert image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert "capped" in box.children[2].value


def test_one_weight_title_reports_failure():
    figure = plots.one_weight_figure(k=3, w=0.95, eps=1e-4)
    assert "FAILED" in figure.texts[0].get_text()
