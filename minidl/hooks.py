"""``RemovableHandle``: what registering a hook returns, so the hook can be taken away again."""

from __future__ import annotations

import itertools
from typing import Any, Callable

_ids = itertools.count(1)


class RemovableHandle:
    """``handle = module.register_forward_hook(fn)`` … ``handle.remove()`` (PyTorch's name)."""

    def __init__(self, registry: dict[int, Any], hook: Callable[..., Any]) -> None:
        self.id = next(_ids)
        self.registry = registry
        registry[self.id] = hook

    def remove(self) -> None:
        self.registry.pop(self.id, None)
