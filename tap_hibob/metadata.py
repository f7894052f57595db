"""HiBob's own description of the tenant: fields, built-in tables and custom tables.

Read once per run (discovery and the doctor both start here), before any stream runs. The
three metadata endpoints need no permission. The tables metadata may be unavailable (an
older tenant, a proxy answering HTML); the tap then falls back to its bundled schemas for
the tables it knows and says so once. Shapes: docs/development/hibob-api.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk.exceptions import RetriableAPIError

from tap_hibob import endpoints
from tap_hibob.client import HibobClient
from tap_hibob.errors import HibobAPIError, HibobAuthError, HibobPermissionError
from tap_hibob.field_types import HibobField, parse_fields


@dataclass(frozen=True)
class Column:
    """One column of a table, as the metadata describes it."""

    id: str
    name: str
    type: str
    list_id: str | None = None
    custom: bool = False
    description: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> Column | None:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw["id"]:
            return None
        type_data = raw.get("typeData")
        list_id = type_data.get("listId") if isinstance(type_data, Mapping) else None
        column_id = raw["id"]
        custom = raw.get("custom", raw.get("isCustom"))
        return cls(
            id=column_id,
            name=str(raw.get("name") or column_id),
            type=str(raw.get("type") or ""),
            list_id=str(list_id) if list_id is not None else None,
            custom=bool(custom) if custom is not None else column_id.startswith("column_"),
            description=raw.get("description") if isinstance(raw.get("description"), str) else None,
        )


@dataclass(frozen=True)
class Table:
    """A built-in or custom table: id, where its permissions live, and its columns."""

    id: str
    name: str
    category: str
    historical: bool
    columns: tuple[Column, ...]
    description: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> Table | None:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str) or not raw["id"]:
            return None
        flag = next(
            (raw[k] for k in ("historical", "isHistorical", "effectiveDated") if k in raw), False
        )
        columns = raw.get("columns")
        parsed = [Column.parse(c) for c in columns] if isinstance(columns, list) else []
        return cls(
            id=raw["id"],
            name=str(raw.get("name") or raw["id"]),
            category=str(raw.get("category") or raw.get("categoryId") or ""),
            historical=bool(flag),
            columns=tuple(c for c in parsed if c is not None),
            description=raw.get("description") if isinstance(raw.get("description"), str) else None,
        )


def _tables(payload: Any) -> list[Table]:
    raw = payload.get("tables") if isinstance(payload, Mapping) else payload
    if not isinstance(raw, list):
        raise TypeError("no tables list")
    seen: dict[str, Table] = {}
    for entry in raw:
        table = Table.parse(entry)
        if table is not None:
            seen.setdefault(table.id, table)
    return list(seen.values())


@dataclass
class Metadata:
    """What discovery knows about the tenant."""

    raw_fields: list[Any]
    fields: list[HibobField]
    #: Built-in tables from HiBob's table metadata; None when it could not be read.
    tables: list[Table] | None
    custom_tables: list[Table]
    #: Field category id -> display name (custom categories included).
    categories: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def category_name(self, category_id: str) -> str:
        return self.categories.get(category_id) or endpoints.section_of(category_id)


def read_fields(client: HibobClient, stream: str = "employees") -> list[Any]:
    """HiBob's field metadata: a bare JSON array."""
    payload = client.get(endpoints.FIELDS, stream=stream).payload
    if not isinstance(payload, list):
        raise HibobAPIError(
            f"HiBob's field metadata ({endpoints.FIELDS.shown}) is not a JSON array; check "
            "api_url points at the HiBob API"
        )
    return payload


def read(client: HibobClient, logger: logging.Logger) -> Metadata:
    """Fields (required), then built-in and custom tables (each may be unavailable)."""
    raw_fields = read_fields(client)
    fields = parse_fields(raw_fields)
    categories: dict[str, str] = {}
    for raw in raw_fields:
        if isinstance(raw, Mapping) and raw.get("categoryId"):
            name = raw.get("categoryDisplayName") or raw["categoryId"]
            categories.setdefault(str(raw["categoryId"]), str(name))
    metadata = Metadata(raw_fields, fields, None, [], categories)
    for what, endpoint, consequence in (
        ("built-in tables", endpoints.TABLE_METADATA,
         "the tap uses its bundled schemas for the tables it knows"),
        ("custom tables", endpoints.CUSTOM_TABLE_METADATA,
         "custom tables are not offered in this run"),
    ):  # fmt: skip
        try:
            tables = _tables(client.get(endpoint).payload)
        except HibobAuthError:
            raise
        except (HibobAPIError, RetriableAPIError, TypeError) as exc:
            reason = (
                "its answer has no tables list"
                if isinstance(exc, TypeError)
                else f"HiBob answered {endpoint.shown} with 403"
                if isinstance(exc, HibobPermissionError)
                else str(exc)
            )
            problem = f"HiBob's {what} metadata could not be read ({reason}); {consequence}."
            logger.warning(problem)
            metadata.problems.append(problem)
            tables = None
        if endpoint is endpoints.TABLE_METADATA:
            metadata.tables = tables
        else:
            metadata.custom_tables = tables or []
    return metadata
