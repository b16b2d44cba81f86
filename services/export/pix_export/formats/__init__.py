"""Export formats, discovered: every module here that defines `FORMAT` is one format.

Adding a CRM (FIO, …) is one new module with a class implementing `ExportFormat` and a
`FORMAT = TheClass()` line; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil

from pix_export.formats.base import ExportFormat


def all_formats() -> list[ExportFormat]:
    found: list[ExportFormat] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        fmt = getattr(loaded, "FORMAT", None)
        if fmt is not None:
            found.append(fmt)
    return found
