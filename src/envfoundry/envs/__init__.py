"""The seed library: one module per environment, each registering itself at the bottom.

Every module in this package is imported (and so registered) when ``envfoundry`` is imported.
"""

import importlib
import pkgutil

from envfoundry.core import registry as _registry

# A sandbox worker keeps the seed library out (it runs one environment, which may import a helper
# module from this package without every seed registering beside it).
if _registry.seed_library_enabled():
    for _info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        if not _info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{_info.name}")


def seed_names() -> list[str]:
    """Names of the seed environments (the ones shipped in this package)."""
    from envfoundry.core.registry import get_class, registered

    return [name for name in registered() if get_class(name).__module__.startswith(f"{__name__}.")]
