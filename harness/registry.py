"""A small generic registry, in the manner of timm's ``register_model``.

Example::

    MODELS = Registry("model")

    @MODELS.register("resmlp")
    def build_resmlp(...): ...

    MODELS.get("resmlp")          # the function
    MODELS.get("resmpl")          # UserInputError: Unknown model 'resmpl'. Did you mean: resmlp?
"""

from __future__ import annotations

import difflib
import fnmatch
from typing import Callable, Generic, Iterable, TypeVar

from harness.errors import UserInputError

T = TypeVar("T")


def closest(name: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    """The ``n`` candidates closest to ``name`` (difflib ratio, then prefix matches)."""
    candidates = list(candidates)
    close = difflib.get_close_matches(name, candidates, n=n, cutoff=0.5)
    prefix = [c for c in candidates if c.startswith(name[:3]) and c not in close]
    return (close + prefix)[:n]


class Registry(Generic[T]):
    """Maps names to objects; unknown names fail with the closest valid names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str, *, file: str | None = None, key: str | None = None) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UserInputError(self.unknown_message(name), file=file, key=key) from None

    def unknown_message(self, name: str) -> str:
        suggestions = closest(name, self._entries)
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        return f"Unknown {self.kind} {name!r}.{hint} Available: {', '.join(sorted(self._entries))}"

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: str) -> bool:
        return name in self._entries
