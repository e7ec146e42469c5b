import matplotlib
import pytest

matplotlib.use("Agg")

from lottolib import plots, widgets


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
