"""Every module's docstring example runs and gives the output it shows."""

import doctest
import importlib
import pkgutil

import pytest

import tfbert

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(tfbert.__path__, prefix="tfbert.")
    if m.name not in {"tfbert.__main__"}
)


@pytest.mark.parametrize("name", MODULES)
def test_module_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
