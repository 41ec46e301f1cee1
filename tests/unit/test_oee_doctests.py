"""The examples in the OEE engine's docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import twin_models.oee

MODULES = sorted(f"twin_models.oee.{m.name}" for m in pkgutil.iter_modules(twin_models.oee.__path__))


@pytest.mark.parametrize("name", ["twin_models.oee", *MODULES])
def test_docstring_examples(name: str) -> None:
    # the examples read no files (the engine never opens one), so they run from any directory
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
