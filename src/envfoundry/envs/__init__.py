"""The seed library: one module per environment, each registering itself at the bottom.

Every module in this package is imported (and so registered) when ``envfoundry`` is imported.
"""

import importlib
import pkgutil

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")


def seed_names() -> list[str]:
    """Names of the seed environments (the ones shipped in this package)."""
    from envfoundry.core.registry import get_class, registered

    return [name for name in registered() if get_class(name).__module__.startswith(f"{__name__}.")]
