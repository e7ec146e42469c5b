"""The API reference page documents every public name of lottolib."""

import importlib
import re
from pathlib import Path

import lottolib

API_PAGE = Path(__file__).resolve().parent.parent / "api.md"


def test_every_public_name_of_the_package_is_documented():
    text = API_PAGE.read_text()
    documented = set(re.findall(r"^\.\. auto(?:function|class|data):: (\w+)$", text, flags=re.M))
    assert set(lottolib.__all__) - documented == set(), "add the new names to api.md"
    assert documented - set(lottolib.__all__) == set()


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
