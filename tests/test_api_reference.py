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
