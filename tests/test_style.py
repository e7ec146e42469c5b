"""The book's figure style: retina PNGs under IPython (sharp on 2x screens), checked for hidden data; a palette of
colour roles used by every figure (one meaning per colour, apart for colour-blind readers); readable numbers."""

import base64
import struct
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from lottolib.style import readable

DRAW = "import matplotlib.pyplot as plt\nplt.plot([0, 1], [0, 1])\nplt.show()"
HIDING = 'plt.plot([0, 1], [1e-7, 1])\nplt.yscale("log")\nplt.ylim(1e-5, 2)\nplt.show()'
HIDING_BOOK_FIGURE = ("from lottolib.plots import BookFigure\nfigure = BookFigure()\n"
                      "figure.subplots().bar(['a', 'b'], [0.5, 3.0])\nfigure.axes[0].set_ylim(0, 1)\nfigure")


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
                      nbformat.v4.new_code_cell(DRAW),
                      nbformat.v4.new_code_cell(HIDING),
                      nbformat.v4.new_code_cell(HIDING_BOOK_FIGURE)]
    NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    (plain,), (sharp,) = ([o for o in cell.outputs if "image/png" in o.get("data", {})]
                          for cell in (notebook.cells[0], notebook.cells[2]))
    for cell in notebook.cells[:3]:
        assert not any(output.get("name") == "stderr" for output in cell.outputs), "a clean figure draws no warning"
    for cell in notebook.cells[3:]:  # pyplot's figure and a library figure (a BookFigure) alike
        warned = "".join(output.get("text", "") for output in cell.outputs if output.get("name") == "stderr")
        assert "HiddenDataWarning" in warned and "1 of " in warned and "lie outside y limits" in warned, warned
        assert any("image/png" in output.get("data", {}) for output in cell.outputs), "the figure is still shown"
    notebook.cells = notebook.cells[:3]
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


# --- the palette: one meaning per colour ------------------------------------------------------------

import ast  # noqa: E402
import itertools  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import jupytext  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import CSS4_COLORS, to_rgb  # noqa: E402

from lottolib import style  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "chapters" / "source").glob("*.md"))
PLOTTING_MODULES = sorted(path for path in (ROOT / "lottolib").glob("*.py")
                          if path.name != "style.py" and re.search(r"^(from|import) (matplotlib|ipywidgets)",
                                                                    path.read_text(), flags=re.M))

# Machado, Oliveira and Fernandes (2009), severity 1: simulated colour vision deficiencies, on linear RGB.
DEFICIENCIES = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


def lab(color: str, deficiency: str | None = None) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour, as seen with ``deficiency`` (None: normal vision)."""
    srgb = np.array(to_rgb(color))
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    if deficiency is not None:
        linear = np.clip(DEFICIENCIES[deficiency] @ linear, 0, 1)
    xyz = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                    [0.0193339, 0.1191920, 0.9503041]]) @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def delta_e(first: np.ndarray, second: np.ndarray) -> float:
    """CIEDE2000 colour difference of two CIELAB colours (Sharma, Wu and Dalal 2005)."""
    (l1, a1, b1), (l2, a2, b2) = first, second
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    dh = 0.0 if c1 * c2 == 0 else (h2 - h1 + 180) % 360 - 180
    d_hue = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh / 2))
    l_mean, c_mean = (l1 + l2) / 2, (c1 + c2) / 2
    if c1 * c2 == 0:
        h_mean = h1 + h2
    elif abs(h1 - h2) <= 180:
        h_mean = (h1 + h2) / 2
    else:
        h_mean = (h1 + h2 + 360) / 2 if h1 + h2 < 360 else (h1 + h2 - 360) / 2
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * c_mean, 1 + 0.015 * c_mean * t
    r_t = (-np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2))))
           * 2 * np.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    dl, dc, dhh = (l2 - l1) / s_l, (c2 - c1) / s_c, d_hue / s_h
    return float(np.sqrt(dl**2 + dc**2 + dhh**2 + r_t * dc * dhh))


def seen_apart(first: str, second: str) -> float:
    """The smallest CIEDE2000 difference of two colours over normal vision and the three simulated deficiencies."""
    return min(delta_e(lab(first, kind), lab(second, kind)) for kind in (None, *DEFICIENCIES))


def test_delta_e_matches_sharmas_published_pairs():
    # Sharma, Wu and Dalal (2005), table 1: pairs 1, 7 and 17 with their CIEDE2000 differences
    for first, second, expected in (((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
                                    ((50, 0, 0), (50, -1, 2), 2.3669),
                                    ((50, 2.5, 0), (73, 25, -18), 27.1492)):
        assert delta_e(np.array(first), np.array(second)) == pytest.approx(expected, abs=1e-4)


def _plotting_units() -> list[tuple[str, str]]:
    """(name, code) of every unit that draws one figure: each chapter code cell, each top-level class or function
    of lottolib's plotting modules."""
    units = []
    for source in SOURCES:
        for index, cell in enumerate(jupytext.read(source).cells):
            if cell.cell_type == "code":
                units.append((f"{source.stem} cell {index}", cell.source))
    for module in PLOTTING_MODULES:
        text = module.read_text()
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                units.append((f"{module.name}:{node.name}", ast.get_source_segment(text, node) or ""))
    return units


def _roles_in(code: str) -> set[str]:
    return set(re.findall(r"""(?:COLORS\[\s*|shades\(\s*)["'](\w+)["']""", code))


def test_every_role_has_its_own_colour_far_from_every_other():
    colors = [role.color.lower() for role in style.ROLES.values()]
    assert len(set(colors)) == len(colors), "two roles share a colour"
    assert len({role.called for role in style.ROLES.values()}) == len(style.ROLES), "two roles share a name"
    assert len(set(style.COLORMAPS.values())) == len(style.COLORMAPS), "two colour-map roles share a map"
    for (name, first), (other, second) in itertools.combinations(style.COLORS.items(), 2):
        difference = delta_e(lab(first), lab(second))
        assert difference >= 15, f"{name} {first} and {other} {second} look alike (ΔE2000 {difference:.1f} < 15)"


def test_roles_that_share_a_figure_stay_apart_for_colour_blind_readers():
    together = set()
    for name, code in _plotting_units():
        roles = _roles_in(code)
        assert roles <= set(style.ROLES), f"{name}: unknown roles {roles - set(style.ROLES)}"
        together.update(itertools.combinations(sorted(roles), 2))
    assert ("certificate", "measured") in together and ("pair", "subset_sum") in together
    for first, second in sorted(together):
        apart = seen_apart(style.COLORS[first], style.COLORS[second])
        assert apart >= 10, f"{first} and {second} share a figure but look alike to some readers (ΔE2000 {apart:.1f})"


def test_the_shades_the_book_uses_stay_apart_from_every_other_role():
    used = {(role, int(n)) for _, code in _plotting_units()
            for role, n in re.findall(r"""shades\(\s*["'](\w+)["']\s*,\s*(\d+)""", code)}
    used.add(("measured", 4))  # use_book_style's colour cycle
    for role, n in sorted(used):
        for shade in style.shades(role, n):
            for other, color in style.COLORS.items():
                if other != role:
                    assert delta_e(lab(shade), lab(color)) >= 12, f"a shade {shade} of {role} looks like {other}"
    assert style.shades("measured", 1) == [style.COLORS["measured"].lower()]
    assert style.shades("measured", 3)[-1] == style.COLORS["measured"].lower()
    with pytest.raises(KeyError, match=r"no colour role 'bound'.*measured"):
        style.shades("bound", 2)
    with pytest.raises(ValueError, match="shades"):
        style.shades("measured", 0)


COLOR_KEYWORDS = {"color", "c", "colors", "facecolor", "facecolors", "edgecolor", "edgecolors", "fc", "ec",
                  "markerfacecolor", "markeredgecolor", "mfc", "mec", "markerfacecoloralt", "ecolor", "labelcolor",
                  "cmap"}
PLOT_CALLS = {"plot", "loglog", "semilogx", "semilogy", "errorbar"}
FORMAT_WITH_COLOR = re.compile(r"^[-.:,o^v<>1-4sp*hH+xXdD|_]*[bgrcmykw][-.:,o^v<>1-4sp*hH+xXdD|_]*$")


def _strings_given(node: ast.AST) -> list[str]:
    """The string constants an expression gives as its value (in lists, tuples, conditionals), not those it looks
    up (``COLORS["pair"]``) or passes to a call (``shades("measured", 4)``)."""
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else []
    if isinstance(node, ast.Subscript | ast.Call):
        return []
    return [text for child in ast.iter_child_nodes(node) for text in _strings_given(child)]


def _color_literals(code: str) -> list[str]:
    """Raw colours in Python code: hex strings, ``C0``-style cycle colours, named colours, colour-map names given
    as ``cmap=``, and format strings with a colour letter. ``"none"`` (nothing drawn) is not a colour."""
    found = []
    tree = ast.parse(code)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    names = {name.lower() for name in CSS4_COLORS}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
            if re.search(r"#[0-9a-fA-F]{6}\b|^#[0-9a-fA-F]{3}$|^C\d$|^(tab|xkcd):", text) or text.lower() in names:
                found.append(text)
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in COLOR_KEYWORDS:
                    found += [text for text in _strings_given(keyword.value) if text != "none"]
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if function in PLOT_CALLS:
                found += [arg.value for arg in node.args if isinstance(arg, ast.Constant)
                          and isinstance(arg.value, str) and FORMAT_WITH_COLOR.match(arg.value)]
    return found


def test_colour_literal_finder_finds_each_kind():
    code = ('ax.plot(x, y, "r--")\nax.bar(x, h, color=["#d1495b", COLORS["pair"]])\nax.imshow(a, cmap="RdBu_r")\n'
            'ax.scatter(x, y, c="C1", edgecolor="none")\nax.axhline(1, color="grey")\nhtml = "<b style=\'color:#d1495b\'>"\n'
            'ax.plot(x, y, "o-", color=COLORS["measured"])\n')
    assert set(_color_literals(code)) == {"r--", "#d1495b", "RdBu_r", "C1", "grey", "<b style='color:#d1495b'>"}


def test_no_figure_uses_a_raw_colour_only_roles():
    offenders = []
    for name, code in _plotting_units():
        for literal in _color_literals(code):
            offenders.append(f"{name}: {literal!r}")
    assert not offenders, "use lottolib.style.COLORS / COLORMAPS / shades, not raw colours:\n" + "\n".join(offenders)


COLOUR_WORDS = r"red|teal|yellow|green|blue|orange|gr[ae]y|black|white|purple|violet|pink|magenta|cyan|sand|brown" \
    r"|vermillion|indigo|rose|olive|gold"
MAP_WORDS = {"blue-green", "brown"}  # COLORMAPS["signed"] (BrBG) as the filters' caption names it


def test_the_text_names_colours_as_the_palette_does():
    """A caption or sentence that names a colour uses the name of a role's colour (Role.called) or of the signed
    colour map: no "red line" left over from another palette."""
    allowed = sorted({role.called for role in style.ROLES.values()} | MAP_WORDS, key=len, reverse=True)
    stray = []
    for source in SOURCES:
        notebook = jupytext.read(source)
        texts = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
        texts += [str(cell.metadata.get("mystnb", {}).get("figure", {}).get("caption", ""))
                  for cell in notebook.cells if cell.cell_type == "code"]
        for text in texts:
            rest = re.sub("|".join(rf"\b{re.escape(word)}\b" for word in allowed), "", text, flags=re.I)
            stray += [f"{source.stem}: {word!r}" for word in re.findall(rf"\b(?:{COLOUR_WORDS})\b", rest, flags=re.I)]
    assert not stray, f"colour words that name no colour of the palette ({', '.join(allowed)}):\n" + "\n".join(stray)


# --- figures that hide no data ------------------------------------------------------------------------

from matplotlib.figure import Figure  # noqa: E402


def _axes(**settings):
    axis = Figure().subplots()
    axis.set(**settings)
    return axis


@pytest.mark.parametrize(("draw", "hidden"), [
    (lambda a: a.plot([1, 2, 3], [1e-7, 1e-3, 1]), "1 of 3 y values of Line2D"),      # a point below a log floor
    (lambda a: a.plot([1, 2], [0.0, 1e-3]), "1 of 2 y values"),                         # 0 on a log axis
    (lambda a: a.bar(["a", "b"], [1e-6, 1e-3]), "1 of 1 y values of Rectangle"),        # a bar below the axis
    (lambda a: a.bar(["a", "b"], [1e-5, 1e-3]), "1 of 1 y values of Rectangle"),        # a bar ending at the axis
    (lambda a: a.bar(["a", "b"], [1.05e-5, 1e-3]), "1 of 1 y values of Rectangle"),     # a sliver of a bar
    (lambda a: a.scatter([1, 2], [1e-3, 5.0]), "1 of 2 y values of PathCollection"),    # above the top
    (lambda a: a.axhline(1e-6, label="ε"), "2 of 2 y values of 'ε'"),                   # a level off the axes
    (lambda a: a.errorbar([1], [1e-3], yerr=[[9.99e-4], [0]]), "y values of LineCollection"),  # an error bar
    (lambda a: a.stairs([1e-3, 1e-7], [0, 1, 2]), "1 of 2 y values of StepPatch"),
    (lambda a: a.plot([-1, 2], [1e-3, 1e-3]), "1 of 2 x values"),                      # left of the x axis
])
def test_check_visible_finds_data_off_log_axes(draw, hidden):
    axis = _axes(yscale="log", ylim=(1e-5, 2), xlim=(-0.5, 2.5))
    draw(axis)
    with pytest.raises(style.HiddenDataError, match=re.escape(hidden)):
        style.check_visible(axis.figure)


def test_check_visible_passes_every_kind_of_mark_inside_the_axes():
    axis = _axes(yscale="log")
    axis.plot([1, 2, 3], [1e-7, np.nan, 1])  # NaN is left out on purpose, never drawn
    axis.bar([1, 2], [1e-6, 1e-2])
    axis.scatter([1.5], [1e-3])
    axis.axhline(1e-4)
    axis.errorbar([2.5], [1e-3], yerr=[[5e-4], [1e-3]])
    linear = axis.figure.add_axes((0.1, 0.1, 0.2, 0.2))
    linear.bar(["zero", "three"], [0, 3])  # a zero bar on a linear axis from 0 is drawn (as nothing)
    linear.stairs([0, 3, 1], [0, 1, 2, 3])
    linear.invert_xaxis()
    assert style.check_visible(axis.figure) is axis.figure
    assert style.hidden_data(axis.figure) == []


def test_a_bar_that_rises_clear_of_the_bottom_of_a_log_axis_is_shown():
    axis = _axes(yscale="log", ylim=(1e-5, 2))
    axis.bar(["a", "b"], [1.5e-5, 1e-3])  # 0.18 of 5.3 decades above the bottom: visible
    assert style.hidden_data(axis.figure) == []
    axis.bar(["c"], [1.02e-5])  # 0.009 decades: a sliver, hidden
    assert len(style.hidden_data(axis.figure)) == 1


def test_a_marked_floor_accepts_values_below_it_and_nothing_else():
    axis = _axes(yscale="log")
    axis.bar(["a", "b", "c"], [1e-9, 1e-8, 1e-3])
    axis.plot([0, 2], [1e-12, 1e-2])
    style.mark_floor(axis, 1e-8)
    assert axis.get_ylim()[0] == 1e-8
    assert style.hidden_data(axis.figure) == []
    axis.plot([0], [100.0])  # above the top: still hidden
    assert len(style.hidden_data(axis.figure)) == 1
    with pytest.raises(ValueError, match="floor"):
        style.mark_floor(_axes(yscale="log"), 0.0)


def test_figures_of_the_residual_chapter_show_all_their_data():
    from lottolib.residual_plots import residual_figure

    for values in ({}, {"k": 1, "blocks": 6, "strength": 1.0}):
        style.check_visible(residual_figure(**values))


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_no_figure_of_the_book_hides_data(source):
    """use_book_style checks every figure a chapter displays: the executed notebook holds no warning of hidden data."""
    import nbformat as formats

    stored = formats.read(source.parent.parent / f"{source.stem}.ipynb", as_version=4)
    warned = [output.get("text", "") for cell in stored.cells if cell.cell_type == "code"
              for output in cell.outputs if "HiddenDataWarning" in output.get("text", "")]
    assert not warned, "\n".join(warned)
