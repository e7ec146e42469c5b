"""Checks shared by the assignments' public and hidden tests, so that a failing test says what to change.

Every generated assignment folder (the student's and the autograder's) holds a copy of this file
next to the notebook; the tests import it. Nothing in it is secret.

- :func:`given` returns the value of a variable a question asks for, or fails with
  "q1: answer not set: ..." when it is still the ``...`` of the handed-out notebook, missing, or
  still the empty list the handed-out notebook starts with.
- :func:`called` calls a function a question asks for and fails the same way when it is still the
  stub that returns None.
- :func:`without_lottolib` calls a student's function with every function, class and method of
  ``lottolib`` switched off for the duration of the call, and watches for any lottolib code that
  runs anyway (a library function kept in a default argument, a closure or a bound method): an
  answer that hands the work to the library fails with a message naming the library call. Every
  hidden test calls the student's functions through it.
- :func:`check_close` compares a number with the expected one and prints both.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["LibraryCalled", "called", "check_close", "given", "without_lottolib"]


def _unset(value: object) -> bool:
    return value is None or value is Ellipsis


def given(question: str, name: str, value: Any) -> Any:
    """``value``, unless it is still unset (``...``, missing, or an empty list the question asks to fill):
    then AssertionError "q: answer not set"."""
    if value is Ellipsis:
        state = "still `...`"
    elif value is None:
        state = "not defined"
    elif isinstance(value, list | tuple | dict) and not value:
        state = "still empty"
    else:
        return value
    raise AssertionError(f"{question}: answer not set: `{name}` is {state}; set it in the question's cell and run that cell")


def called(question: str, function: Callable[..., Any] | None, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call ``function(*args, **kwargs)``; AssertionError "q: answer not set" if it is missing or returns None."""
    if _unset(function):
        raise AssertionError(f"{question}: answer not set: the function `{name}` is not defined; "
                             "run the cell that defines it")
    if not callable(function):
        raise AssertionError(f"{question}: `{name}` should be a function, but it is {function!r}")
    result = function(*args, **kwargs)
    if _unset(result):
        raise AssertionError(f"{question}: answer not set: `{name}` returned {result!r}; "
                             f"replace the `...` in its body by your code, ending in a `return`")
    return result


def check_close(question: str, what: str, got: Any, expected: float, tolerance: float) -> None:
    """AssertionError with both values unless ``got`` is a number within ``tolerance`` of ``expected``."""
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise AssertionError(f"{question}: {what} should be a number, got {got!r}") from None
    if not (math.isfinite(value) and abs(value - expected) <= tolerance):
        raise AssertionError(f"{question}: {what} is {value!r}, expected {expected!r} (within {tolerance:g})")


class LibraryCalled(AssertionError):
    """Raised when a student's answer calls lottolib in a question that asks to compute it by hand."""


def _library_called(question: str, name: str) -> LibraryCalled:
    return LibraryCalled(f"{question}: your answer calls lottolib ({name}); this question asks you to compute "
                         f"it yourself with torch, so the grader runs it with lottolib switched off")


def _refuse(question: str, name: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise _library_called(question, name)

    return refuse


def _ours(value: object) -> bool:
    module = getattr(value, "__module__", None) or ""
    return (inspect.isfunction(value) or inspect.isclass(value)) and (module == "lottolib" or module.startswith("lottolib."))


@contextlib.contextmanager
def _lottolib_switched_off(question: str, namespace: dict[str, Any]) -> Iterator[None]:
    saved: list[tuple[Any, str, Any]] = []

    def replace(owner: Any, attribute: str, value: Any) -> None:
        saved.append((owner, attribute, owner[attribute] if isinstance(owner, dict) else vars(owner)[attribute]))
        if isinstance(owner, dict):
            owner[attribute] = value
        else:
            setattr(owner, attribute, value)

    try:
        modules = [module for name, module in list(sys.modules.items())
                   if module is not None and (name == "lottolib" or name.startswith("lottolib."))]
        classes = {}
        for module in modules:
            for attribute, value in list(vars(module).items()):
                if _ours(value):
                    if inspect.isclass(value):
                        classes[id(value)] = value
                    replace(module, attribute, _refuse(question, f"{module.__name__}.{attribute}"))
        for attribute, value in list(namespace.items()):
            if _ours(value):
                if inspect.isclass(value):
                    classes[id(value)] = value
                replace(namespace, attribute, _refuse(question, f"{value.__module__}.{value.__qualname__}"))
        for cls in classes.values():
            for attribute, value in list(vars(cls).items()):
                if attribute.startswith("__") and attribute != "__call__":
                    continue
                name = f"{cls.__module__}.{cls.__qualname__}.{attribute}"
                if inspect.isfunction(value) or isinstance(value, staticmethod | classmethod):
                    replace(cls, attribute, _refuse(question, name))
                elif isinstance(value, property) or type(value).__name__ == "cached_property":
                    replace(cls, attribute, property(_refuse(question, name)))
        yield
    finally:
        for owner, attribute, value in reversed(saved):
            if isinstance(owner, dict):
                owner[attribute] = value
            else:
                setattr(owner, attribute, value)


@contextlib.contextmanager
def _lottolib_watched() -> Iterator[list[str]]:
    """Record the first lottolib function that runs (a Python frame whose code lies in the lottolib package)."""
    package = sys.modules.get("lottolib")
    folder = os.path.dirname(getattr(package, "__file__", None) or "") + os.sep
    ran: list[str] = []

    def watch(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and not ran and folder != os.sep and frame.f_code.co_filename.startswith(folder):
            ran.append(f"{frame.f_globals.get('__name__', 'lottolib')}.{frame.f_code.co_qualname}")

    previous = sys.getprofile()
    sys.setprofile(watch)
    try:
        yield ran
    finally:
        sys.setprofile(previous)


def without_lottolib(question: str, function: Callable[..., Any] | None, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the student's ``function`` like :func:`called`, with lottolib switched off during the call.

    Every function and class defined in a ``lottolib`` module, every name in the notebook bound to
    one (``from lottolib import choose_pairs``), and every method and property of lottolib's
    classes raise :class:`LibraryCalled` until the call returns; then all is restored. Lottolib
    code that runs all the same, reached through a reference taken before the call, raises
    :class:`LibraryCalled` when the call returns.
    """
    namespace = getattr(function, "__globals__", {})
    with _lottolib_switched_off(question, namespace), _lottolib_watched() as ran:
        result = called(question, function, name, *args, **kwargs)
    if ran:
        raise _library_called(question, ran[0])
    return result
