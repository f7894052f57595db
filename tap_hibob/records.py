"""Records shaped to their stream's schema before they are written.

HiBob sends whole numbers as JSON integers next to decimals (fte 100 and 62.5), list item
and employee ids as numbers or strings, dates as date-times now and then, and properties the
schema may not declare (a column added after discovery). A warehouse column needs one type,
and a record must never carry a property its SCHEMA does not declare. `Shaper` compiles a
schema once and then, per record: coerces scalars to the declared type where that loses
nothing, turns `date-time` values into RFC 3339 UTC, and leaves undeclared properties out,
counting them so the stream can warn once per property name (never with the value).

The streams set the SDK's TYPE_CONFORMANCE_LEVEL to NONE: the values are already typed here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tap_hibob.timeutil import to_utc_timestamp

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T")
_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")

Shape = Callable[[Any, "Findings"], Any]


class Findings:
    """What shaping left out, by property path; reported once per stream."""

    def __init__(self) -> None:
        self.undeclared: Counter[str] = Counter()
        self.mistyped: Counter[str] = Counter()


def _types(schema: Mapping[str, Any]) -> set[str]:
    declared = schema.get("type")
    kinds = {declared} if isinstance(declared, str) else set(declared or ())
    for option in (*schema.get("anyOf", ()), *schema.get("oneOf", ())):
        if isinstance(option, Mapping):
            kinds |= _types(option)
    return kinds


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _unchanged(schema: Mapping[str, Any], kinds: set[str], empty_when_null: bool) -> frozenset:
    """Python types of values this (sub)schema returns as they are: copied without a call.

    (msgspec writes a non-finite float as null, so floats need no check either.)
    """
    if not kinds:
        return frozenset({str, int, float, bool, dict, list, type(None)})
    fmt = schema.get("format")
    out: set[type] = set()
    if not empty_when_null:
        out.add(type(None))
    if "string" in kinds and fmt not in ("date", "date-time"):
        out.add(str)
    if "integer" in kinds:
        out.add(int)
    if "number" in kinds:
        out.add(float)
    if "boolean" in kinds:
        out.add(bool)
    if "object" in kinds and "properties" not in schema:
        out.add(dict)
    if "array" in kinds and "items" not in schema:
        out.add(list)
    return frozenset(out)


@dataclass(frozen=True)
class _Options:
    flatten_depth: int = 0
    #: The catalog's selection: properties it deselects are left out (silently).
    mask: Mapping[tuple[str, ...], bool] | None = None

    def selected(self, breadcrumb: tuple[str, ...]) -> bool:
        return True if self.mask is None else bool(self.mask[breadcrumb])


def compile_shape(
    schema: Mapping[str, Any],
    path: str = "",
    level: int = -1,
    options: _Options = _Options(),
    breadcrumb: tuple[str, ...] = (),
) -> Shape:
    """The shaping function of one (sub)schema at `path`, walked once.

    `level` is the property's nesting level as the SDK's flattening counts it (the record's
    own properties are level 0). With flattening on, a null object the flattening would
    descend into becomes `{}`: the SDK keeps a null object under its bare name, which the
    flattened schema does not have, and loaders with fixed columns (target-csv) reject the
    row; every flattened column of a null object is null either way.
    """
    flatten_depth = options.flatten_depth
    kinds = _types(schema)
    properties = schema.get("properties")
    items = schema.get("items")
    children: dict[str, Shape] | None = None
    unchanged: dict[str, frozenset] = {}
    objects: dict[str, Shape] = {}  # children whose dicts are shaped directly (one call less)
    deselected: frozenset[str] = frozenset()
    if isinstance(properties, Mapping):
        children, unchanged, objects, deselected = _compile_children(
            properties, path, level, options, breadcrumb
        )
    keep_extra = schema.get("additionalProperties") is True or children is None
    item = compile_shape(items, path) if isinstance(items, Mapping) else None
    scalar = _scalar(kinds, schema.get("format"), path)
    free = not kinds  # `{}` or types the tap does not restrict
    empty_when_null = children is not None and 0 <= level < flatten_depth
    undeclared: dict[str, str] = {}  # property name -> its path, for the findings

    def shape_object(value: dict[str, Any], findings: Findings) -> Any:
        """The object shaped in place (records are the tap's own: decoded pages)."""
        if "object" not in kinds and not free:
            findings.mistyped[path] += 1
            return None
        if children is None:
            return value  # a free-form object (no declared properties): as HiBob sent it
        left_out: list[str] | None = None
        same_types = unchanged.get
        for name, sub in value.items():
            same = same_types(name)
            if same is not None:
                if type(sub) not in same:
                    # Replacing a key's value while iterating is safe: the keys stay.
                    direct = objects.get(name) if type(sub) is dict else None
                    value[name] = (direct or children[name])(sub, findings)
            elif not keep_extra:
                if left_out is None:
                    left_out = []
                left_out.append(name)
        for name in left_out or ():
            del value[name]
            if name in deselected:
                continue  # the catalog deselects it: left out as asked, not a finding
            where = undeclared.get(name)
            if where is None:
                where = undeclared[name] = _join(path, name)
            findings.undeclared[where] += 1
        return value

    def shape_list(value: list[Any], findings: Findings) -> Any:
        if "array" not in kinds and not free:
            findings.mistyped[path] += 1
            return None
        return value if item is None else [item(v, findings) for v in value]

    def shape(value: Any, findings: Findings) -> Any:
        if value is None:
            return {} if empty_when_null else None
        if isinstance(value, dict):
            return shape_object(value, findings)
        if isinstance(value, list):
            return shape_list(value, findings)
        return value if free else scalar(value, findings)

    if children is not None and ("object" in kinds or free):
        shape.shape_object = shape_object  # type: ignore[attr-defined]
    return shape


def _compile_children(
    properties: Mapping[str, Any],
    path: str,
    level: int,
    options: _Options,
    breadcrumb: tuple[str, ...],
) -> tuple[dict[str, Shape], dict[str, frozenset], dict[str, Shape], frozenset[str]]:
    children: dict[str, Shape] = {}
    unchanged: dict[str, frozenset] = {}
    objects: dict[str, Shape] = {}
    deselected: set[str] = set()
    fd = options.flatten_depth
    for name, sub in properties.items():
        crumb = (*breadcrumb, "properties", name)
        if not options.selected(crumb):
            deselected.add(name)
            continue
        child = children[name] = compile_shape(sub, _join(path, name), level + 1, options, crumb)
        direct = getattr(child, "shape_object", None)
        if direct is not None:
            objects[name] = direct
        nested = isinstance(sub.get("properties"), Mapping)
        unchanged[name] = _unchanged(sub, _types(sub), nested and 0 <= level + 1 < fd)
    return children, unchanged, objects, frozenset(deselected)


_MISS = object()  # a value that does not fit the declared type
Convert = Callable[[Any], Any]


def _converters(kinds: set[str], fmt: str | None) -> dict[type, Convert]:
    """Per Python type of the value, how it becomes the first declared type it fits."""

    def from_int(value: int) -> Any:
        if "integer" in kinds:
            return value
        if "number" in kinds:
            return float(value)
        return str(value) if "string" in kinds else _MISS

    def from_float(value: float) -> Any:
        if not math.isfinite(value):
            return None
        if "number" in kinds:
            return value
        if "integer" in kinds and value.is_integer():
            return int(value)
        return str(value) if "string" in kinds else _MISS

    def from_str(value: str) -> Any:
        if "string" in kinds:
            if fmt == "date-time":
                return to_utc_timestamp(value)
            return value[:10] if fmt == "date" and _DATE_TIME.match(value) else value
        if "integer" in kinds and _INTEGER.match(value):
            return int(value)
        if "number" in kinds and _NUMBER.match(value):
            return float(value)
        if "boolean" in kinds and value.lower() in ("true", "false"):
            return value.lower() == "true"
        return _MISS

    def from_bool(value: bool) -> Any:
        return value if "boolean" in kinds else _MISS

    return {bool: from_bool, int: from_int, float: from_float, str: from_str}


def _scalar(kinds: set[str], fmt: str | None, path: str) -> Shape:
    """Coercion of one scalar to the first declared type it fits, else null (counted)."""
    converters = _converters(kinds, fmt)

    def shape(value: Any, findings: Findings) -> Any:
        convert = converters.get(type(value))
        converted = convert(value) if convert is not None else _MISS
        if converted is _MISS:
            findings.mistyped[path] += 1
            return None
        return converted

    return shape


class Shaper:
    """Shapes every record of one stream; remembers what it left out."""

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        flatten_depth: int = 0,
        mask: Mapping[tuple[str, ...], bool] | None = None,
    ) -> None:
        self._shape = compile_shape(schema, options=_Options(flatten_depth, mask))
        self.findings = Findings()

    def __call__(self, record: dict[str, Any]) -> dict[str, Any]:
        shaped = self._shape(record, self.findings)
        return shaped if isinstance(shaped, dict) else {}

    def warnings(self, stream: str) -> list[str]:
        """One line per kind of finding, naming properties (never values)."""
        lines = []
        undeclared = self.findings.undeclared
        if undeclared:
            lines.append(
                f"{stream}: HiBob sent properties the stream's schema does not declare, left "
                f"out of the records: {_counted(undeclared)}. Run --discover again to pick up "
                "new fields or columns."
            )
        mistyped = self.findings.mistyped
        if mistyped:
            lines.append(
                f"{stream}: values that do not fit their declared type were sent as null: "
                f"{_counted(mistyped)}."
            )
        return lines


def _counted(counter: Counter[str], sample: int = 10) -> str:
    names = sorted(counter)
    text = ", ".join(f"{name} ({counter[name]}x)" for name in names[:sample])
    return text + (f" and {len(names) - sample} more" if len(names) > sample else "")
