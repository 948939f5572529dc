"""Features, one module each, platform-neutral. ``load_features`` finds them all."""

from __future__ import annotations

import importlib
import pkgutil

from handlers.base import Feature

_INFRASTRUCTURE = {"base", "router"}


def load_features() -> list[Feature]:
    features = []
    for mod in pkgutil.iter_modules(__path__):
        if mod.name in _INFRASTRUCTURE or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"handlers.{mod.name}")
        feature = getattr(module, "FEATURE", None)
        if isinstance(feature, Feature):
            features.append(feature)
    features.sort(key=lambda f: (f.order, f.name))
    return features
