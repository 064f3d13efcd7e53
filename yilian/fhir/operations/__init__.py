"""FHIR operations, one module each, found through a registry so capabilities can add their own.

A module registers its handler with `@operation("Patient", "$everything", instance=True)`; the router
looks handlers up by (resource type, name, instance level). Every module is imported by `registry()`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import cache

Handler = Callable[..., object]  # (repo, request, id or None) -> FhirResponse
_HANDLERS: dict[tuple[str, str, bool], Handler] = {}


def operation(rtype: str, name: str, *, instance: bool) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _HANDLERS[(rtype, name, instance)] = handler
        return handler

    return register


@cache
def registry() -> dict[tuple[str, str, bool], Handler]:
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return _HANDLERS
