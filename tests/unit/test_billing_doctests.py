"""The examples in the billing model's docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import twin_models.billing

MODULES = sorted(f"twin_models.billing.{m.name}" for m in pkgutil.iter_modules(twin_models.billing.__path__))
WITHOUT_EXAMPLES = {"twin_models.billing.errors"}


@pytest.mark.parametrize("name", ["twin_models.billing", *MODULES])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or name in WITHOUT_EXAMPLES
