"""Reading one TOML table with typed getters whose errors name the file and the dotted key.

``finish`` rejects every key nobody asked for, so a typo never passes silently.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NoReturn


class JobSpecError(ValueError):
    """A job file is malformed; the message reads ``jobs.toml: key 'cameras.lens': ...``."""


class Table:
    """One table of a job file being read; ``prefix`` is its dotted name ('' at the top)."""

    def __init__(self, raw: Any, file: Path, prefix: str) -> None:
        self.file, self.prefix = file, prefix
        if not isinstance(raw, dict):
            raise JobSpecError(f"{file}: key '{prefix or '(top level)'}': expected a table, got {_show(raw)}")
        self.raw = raw
        self.used: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self.raw

    def name(self, key: str | None) -> str:
        if key is None:
            return self.prefix or "(top level)"
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key: str | None, message: str) -> NoReturn:
        raise JobSpecError(f"{self.file}: key '{self.name(key)}': {message}")

    def get(self, key: str, default: Any) -> Any:
        """The raw value; ``default=None`` makes the key required."""
        self.used.add(key)
        if key not in self.raw:
            if default is None:
                self.fail(key, "is required")
            return default
        return self.raw[key]

    def integer(self, key: str, default: int | None, low: int | None = None, high: int | None = None) -> int:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected an integer, got {_show(value)}")
        self._check_range(key, value, low, high)
        return value

    def number(self, key: str, default: float | None, low: float | None = None, high: float | None = None) -> float:
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(key, f"expected a finite number, got {_show(value)}")
        self._check_range(key, value, low, high)
        return float(value)

    def numbers(self, key: str, default: tuple[float, ...] | None, count: int,
                low: float | None = None, high: float | None = None) -> tuple[float, ...]:
        value = self.get(key, None if default is None else list(default))
        ok = isinstance(value, list) and len(value) == count
        ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        if not ok:
            self.fail(key, f"expected a list of {count} numbers, got {_show(value)}")
        for v in value:
            self._check_range(key, v, low, high)
        return tuple(float(v) for v in value)

    def range_pair(self, key: str, default: tuple[float, float], low: float, high: float) -> tuple[float, float]:
        """[min, max] with min <= max, both within [low, high]."""
        pair = self.numbers(key, default, 2, low, high)
        if pair[0] > pair[1]:
            self.fail(key, f"expected [min, max] with min <= max, got {list(pair)}")
        return pair  # type: ignore[return-value]

    def boolean(self, key: str, default: bool | None) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {_show(value)}")
        return value

    def string(self, key: str, default: str | None) -> str:
        value = self.get(key, default)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_show(value)}")
        return value

    def choice(self, key: str, default: str | None, options: tuple[str, ...]) -> str:
        value = self.string(key, default)
        if value not in options:
            self.fail(key, f"expected one of {list(options)}, got {value!r}")
        return value

    def strings(self, key: str, default: tuple[str, ...] | None, options: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self.get(key, None if default is None else list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(key, f"expected a list of strings, got {_show(value)}")
        if options is not None:
            for v in value:
                if v not in options:
                    self.fail(key, f"{v!r} is not one of {list(options)}")
        return tuple(value)

    def table(self, key: str) -> "Table":
        return Table(self.get(key, {}), self.file, self.name(key))

    def tables(self, key: str) -> list["Table"]:
        """An array of tables ``[[key]]``, required and non-empty."""
        value = self.get(key, [])
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            self.fail(key, f"expected one or more [[{self.name(key)}]] tables, got {_show(value)}")
        return [Table(v, self.file, f"{self.name(key)}[{i}]") for i, v in enumerate(value)]

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            self.fail(unknown[0], f"unknown key (known here: {sorted(self.used)})")

    def _check_range(self, key: str, value: float, low: float | None, high: float | None) -> None:
        if low is not None and value < low:
            self.fail(key, f"must be >= {low}, got {value!r}")
        if high is not None and value > high:
            self.fail(key, f"must be <= {high}, got {value!r}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
