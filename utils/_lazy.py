"""PEP 562 lazy exports of a package (private): import a public name's module on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, where: dict[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the ``__getattr__`` and ``__dir__`` of a package whose names load lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    where : dict of str to str
        Public name -> the submodule (relative to ``package``) that defines it.
    namespace : dict
        The package's ``globals()``: a loaded name is stored there, so later look-ups
        skip ``__getattr__``.

    Returns
    -------
    tuple of callable
        ``(__getattr__, __dir__)`` to assign at module level.
    """

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__
