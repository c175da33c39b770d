"""Package ``__init__`` files that import their submodules on first use (PEP 562).

``from upseg.features import build_features`` still works, but ``import
upseg.features.contract`` no longer loads the engine through
``features/__init__.py``, and ``upseg --help`` loads neither pandas nor ibis.
A package lists where each exported name lives and hands the mapping to
:func:`lazy_exports`; its ``if TYPE_CHECKING:`` block repeats the imports for
type checkers, and ``tests/pipelines/test_cli.py`` checks that the two agree.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names load on first access.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping of str to str
        Each exported name and the submodule (relative to ``package``) that defines it.

    Returns
    -------
    tuple of callable
        ``(__getattr__, __dir__)`` to assign at the package's top level. The first
        access imports the submodule and caches the name in the package.

    Notes
    -----
    A name that is also its submodule's name (``stats.cuped.cuped``) is imported at
    once: importing the submodule sets the package's attribute to the module, and
    ``__getattr__`` would then never be asked for the function.
    """

    def load(name: str) -> Any:
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        setattr(sys.modules[package], name, value)
        return value

    for name, module in exports.items():
        if name == module.rsplit(".", 1)[-1]:
            load(name)

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return load(name)

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
