"""The API reference page documents every public name of lottolib."""

import importlib
import re
from pathlib import Path

import pytest

import lottolib

API_PAGE = Path(__file__).resolve().parent.parent / "api.md"


def _documented_by_module(text: str) -> dict[str, set[str]]:
    """Module → the names its auto directives document (``.. module::``, ``automodule`` and ``currentmodule`` set it)."""
    names: dict[str, set[str]] = {}
    module = "lottolib"
    for match in re.finditer(r"^\.\. (auto\w+|module|currentmodule):: ([\w.]+)", text, flags=re.M):
        if match[1] in ("automodule", "module", "currentmodule"):
            module = match[2]
        elif match[1] in ("autofunction", "autoclass", "autodata"):
            names.setdefault(module, set()).add(match[2])
    return names


def test_every_public_name_of_the_package_is_documented():
    documented = _documented_by_module(API_PAGE.read_text())["lottolib"]
    assert set(lottolib.__all__) - documented == set(), "add the new names to api.md"
    assert documented - set(lottolib.__all__) == set()


def test_the_page_source_shows_every_signature_as_the_code_has_it():
    """api.md lists every function and class with its call signature (scripts/api_signatures.py writes them), and
    every public name of every documented module by name, so a reader of the source sees the call shapes."""
    import sys

    sys.path.insert(0, str(API_PAGE.parent / "scripts"))
    import api_signatures

    text = API_PAGE.read_text()
    assert api_signatures.sign(api_signatures.expand(text)) == text, "run `python scripts/api_signatures.py`"
    assert ":members:\n" not in text.replace("   :members:\n", ""), "an automodule lists its members by name"
    assert re.search(r"^\.\. autofunction:: prune_model\(model, eps, \*, input_radius=None, data=None,", text, re.M)
    by_module = _documented_by_module(text)
    everywhere = set().union(*by_module.values())
    for name in re.findall(r"^\.\. automodule:: ([\w.]+)$", text, flags=re.M):
        missing = set(importlib.import_module(name).__all__) - everywhere
        assert not missing, f"{name}: {sorted(missing)} not listed on the page"


def test_every_documented_module_exists_and_declares_its_public_names():
    modules = re.findall(r"^\.\. automodule:: ([\w.]+)$", API_PAGE.read_text(), flags=re.M)
    assert len(modules) >= 7
    for name in modules:
        module = importlib.import_module(name)
        assert module.__doc__ and getattr(module, "__all__", None), f"{name}: a docstring and __all__"
        for public in module.__all__:
            obj = getattr(module, public)
            assert not callable(obj) or obj.__doc__, f"{name}.{public} has no docstring"


RAISING = {"prune_one_weight", "prune_layer", "prune_block", "prune_random_network", "smallest_width", "success_rate",
           "network_width_bound", "layer_width_bound", "certificate", "sample_weights", "set_memory_limit",
           "empirical_error", "target_weights", "pruning_lower_bound", "unit_success_probability"}


def test_public_functions_document_parameters_returns_and_raises():
    import inspect

    missing = []
    for name in lottolib.__all__:
        obj = getattr(lottolib, name)
        if not inspect.isfunction(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        signature = inspect.signature(obj)
        if signature.parameters and "Parameters\n----------" not in doc:
            missing.append(f"{name}: Parameters")
        if signature.return_annotation not in (None, "None") and "Returns\n-------" not in doc:
            missing.append(f"{name}: Returns")
        if name in RAISING and "Raises\n------" not in doc:
            missing.append(f"{name}: Raises")
    assert not missing, missing


def test_docstrings_name_no_file_outside_the_repository_and_no_raw_roles():
    import pkgutil

    for module in pkgutil.iter_modules(lottolib.__path__):
        text = importlib.import_module(f"lottolib.{module.name}").__doc__ or ""
        source = Path(lottolib.__file__).with_name(f"{module.name}.py").read_text()
        for bad in ("MATH.md", "{ref}", "{numref}", "{py:"):
            assert bad not in source, f"lottolib/{module.name}.py mentions {bad}"
        assert text, f"lottolib/{module.name}.py has no module docstring"


def test_importing_the_library_figures_and_widgets_does_not_load_scikit_learn():
    import subprocess
    import sys

    code = ("import sys, lottolib, lottolib.edge_popup, lottolib.plots, lottolib.widgets, lottolib.conv; "
            "print('sklearn' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def _book_chapters() -> dict[int, str]:
    """Chapter number -> title, as the book numbers them: the numbered parts of _toc.yml, in order, one count."""
    import yaml

    root = API_PAGE.parent
    titles, number = {}, 0
    for part in yaml.safe_load((root / "_toc.yml").read_text())["parts"]:
        for chapter in part["chapters"] if part.get("numbered") else []:
            number += 1
            source = root / "chapters" / "source" / f"{Path(chapter['file']).name}.md"
            titles[number] = next(line[2:].strip() for line in source.read_text().splitlines() if line.startswith("# "))
    return titles


def test_docstrings_number_chapters_as_the_book_does():
    """``chapter N, *Title*`` names the book's chapter N (file number + 1); a bare ``chapter N`` exists."""
    chapters = _book_chapters()
    assert chapters[2] == "One weight" and len(chapters) >= 10
    wrong = []
    for path in sorted(Path(lottolib.__file__).parent.glob("*.py")):
        text = path.read_text()
        for match in re.finditer(r"\bchapters? (\d+)(?:[–-](\d+))?(?:, \*([^*]+)\*)?", text):
            line = text.count("\n", 0, match.start()) + 1
            numbers = [int(g) for g in match.groups()[:2] if g]
            title = " ".join(match[3].split()) if match[3] else None
            if any(n not in chapters for n in numbers) or (title and chapters[numbers[0]] != title):
                wrong.append(f"lottolib/{path.name}:{line}: {match[0]!r}, but the book's chapter {numbers[0]} is "
                             f"{chapters.get(numbers[0])!r}")
    assert not wrong, "\n".join(wrong)


def test_the_api_page_links_the_notation_page_when_there_is_one():
    if not (API_PAGE.parent / "notation.md").is_file():
        pytest.skip("no notation page in this book yet")
    assert "{ref}`notation`" in API_PAGE.read_text(), "link the notation page from api.md"
