"""The book's one figure setting: under IPython figures are stored as retina PNGs (sharp on 2x screens)."""

import base64
import struct
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from lottolib.style import readable

DRAW = "import matplotlib.pyplot as plt\nplt.plot([0, 1], [0, 1])\nplt.show()"


def png_width(data: str) -> int:
    """The pixel width in a base64 PNG's header (IHDR)."""
    raw = base64.b64decode(data)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", raw[16:20])[0]


def test_figures_are_retina_pngs_shown_at_half_their_pixels_and_nbval_still_compares(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(DRAW),  # before the book's style: matplotlib's default
                      nbformat.v4.new_code_cell("from lottolib.style import use_book_style\nuse_book_style()"),
                      nbformat.v4.new_code_cell(DRAW)]
    NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    (plain,), (sharp,) = ([o for o in cell.outputs if "image/png" in o.get("data", {})]
                          for cell in (notebook.cells[0], notebook.cells[2]))
    assert "width" not in plain.get("metadata", {}).get("image/png", {}), "matplotlib's default is not retina"
    shown = sharp.metadata["image/png"]["width"]
    assert abs(png_width(sharp.data["image/png"]) - 2 * shown) <= 1, "twice the pixels of the displayed width"
    assert 500 <= shown <= 700, "displayed at the book's figure size (7 in at 100 dpi, cropped to the drawing)"
    nbformat.write(notebook, tmp_path / "figures.ipynb")
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q", "figures.ipynb"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, "nbval (strict) compares a re-run with the stored outputs equal:\n" + run.stdout[-2000:]


@pytest.mark.parametrize(("x", "written"), [
    (2.2e-05, "2.2 × 10⁻⁵"), (6.43e-06, "6.4 × 10⁻⁶"), (-3.1e-07, "-3.1 × 10⁻⁷"), (2.5e7, "2.5 × 10⁷"),
    (0.00039, "0.00039"), (0.0118, "0.012"), (1.234, "1.2"), (3456.7, "3500"), (0.5, "0.5"), (100.0, "100"), (0.0, "0"),
])
def test_readable_numbers_are_never_in_e_notation(x, written):
    assert readable(x) == written


def test_readable_keeps_the_asked_significant_digits():
    assert readable(0.012345, significant=3) == "0.0123"
    assert readable(1.2345e-6, significant=3) == "1.23 × 10⁻⁶"
