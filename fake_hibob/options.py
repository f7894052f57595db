"""Per-test switches of the fake HiBob, one typed field per knob.

`FakeHibob(options=...)` takes a `FakeOptions` or a dict; a dict goes through
`FakeOptions(**d)`, so a misspelt key is a TypeError instead of a silently ignored switch.
Tests may change `app.options.<field>` between requests: every route reads the options
when it answers. `app.options["key"] = value` still works for older tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

_CHOICES = {
    "ssn_without_edit": ("obscure", "omit"),
    "named_lists_shape": ("array", "object"),
    "named_lists_items_key": ("both", "values", "items"),
    "tables_shape": ("wrapped", "bare", "mixed"),
    "table_metadata_answer": (None, "403", "404", "html"),
    "pending_without_permission": ("omit", "403"),
}


@dataclass
class FakeOptions:
    """Every switch the fake's routes read, with HiBob's ordinary behaviour as the default."""

    # People (fake_hibob/people.py) -------------------------------------------------------
    drop_fields: list[str] | tuple[str, ...] | set[str] = ()
    """Field ids gone from the fields metadata and from people search."""
    slash_only_fields: list[str] | tuple[str, ...] | set[str] = ()
    """Field ids whose value comes only as a slash key (`"/work/site": {"value": ...}`)."""
    ssn_without_edit: str = "obscure"
    """Without the Identification edit permission SSNs are "obscure"d or "omit"ted."""
    named_lists_shape: str = "array"
    """Named lists answer as an "array" of {name, items} or an "object" keyed by name."""
    named_lists_items_key: str = "both"
    """Named-list items sit under "values", "items" or "both" (the same items twice)."""
    max_filter_values: int | None = None
    """People search answers 400 when its filter lists more values than this (None: no cap)."""

    # Employee tables (fake_hibob/tables.py, fake_hibob/custom_tables.py) ----------------
    tables_shape: str = "wrapped"
    """Bulk results' `values`: "wrapped" rows, "bare" rows or "mixed" per employee."""
    tables_restricted: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    """{table: {"no_view_permission": [...], "no_view_history_permission": [...]}}."""
    tables_errors: int = 0
    """List this many inaccessible employees under `errors` on every bulk page."""
    tables_repeat_cursor: bool = False
    """Answer a cursored bulk page with the cursor it was given (a HiBob bug)."""
    tables_human_readable: bool = False
    """Bulk rows carry a `humanReadable` copy (dates dd/MM/yyyy)."""
    tables_extra_column: str | None = None
    """Bulk rows carry one more top-level column of this name (added after our schema)."""
    tables_overlap: int = 0
    """Each bulk page after the first repeats this many rows of the previous page."""
    extra_table_columns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """{table id: [column metadata]}: custom columns added to a table's metadata and rows."""
    extra_tables: list[dict[str, Any]] = field(default_factory=list)
    """Whole employee tables ({id, name, category, historical, columns}) with a bulk route."""
    table_metadata_answer: str | None = None
    """Employee-table metadata answers "403", "404" or "html" instead of the tables."""
    custom_tables: bool = True
    """The tenant has its two custom tables (False: none at all)."""

    # Time off (fake_hibob/timeoff.py) ---------------------------------------------------
    timeoff_requests_per_employee: int = 5
    """At most this many time-off requests per employee (read when the data is generated)."""
    timeoff_missing_employees: set[str] | frozenset[str] = frozenset()
    """Employee ids whose balance answers 404 (left the company mid-sync)."""
    pending_without_permission: str = "omit"
    """includePending=true without the pending permission: "omit" Pending items or "403"."""

    # Saved reports (fake_hibob/reports.py) ---------------------------------------------
    reports_sync_max_rows: int | None = None
    """A sync download of a report with more rows answers "too large"."""
    reports_too_large_status: int = 400
    """How "too large" answers: 400 {"key": "report.download.too.large"} or 413."""
    reports_pending_polls: int = 2
    """Polls of each async generation answered 204 before the file is ready."""
    reports_hidden: list[int] | tuple[int, ...] = ()
    """Report ids not shared with the service user (absent from the list, 404)."""
    reports_edit_after_list: list[int] | tuple[int, ...] = ()
    """Once the list was read, these reports gain a column and lose one (edited in Bob)."""

    # Rate limits (fake_hibob/server.py) -------------------------------------------------
    foreign_usage: dict[str, int] = field(default_factory=dict)
    """{bucket: n}: another client of the service user spends n requests at each window start
    (a bucket is an endpoint key, or "shared" for the shared bucket)."""
    shared_bucket: list[str] = field(default_factory=list)
    """Endpoint keys counted in one budget, bucket "shared" ("bulk": every `bulk_*` key); its
    limit is `limits["shared"]` if set, else the requested key's own limit."""

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {getattr(self, name)!r}")

    @classmethod
    def of(cls, options: FakeOptions | dict[str, Any] | None) -> FakeOptions:
        if options is None:
            return cls()
        if isinstance(options, FakeOptions):
            return options
        return cls(**options)

    # Older tests set options like a dict; unknown keys still fail loudly.
    def __getitem__(self, name: str) -> Any:
        if name not in _NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in _NAMES:
            raise KeyError(name)
        setattr(self, name, value)


_NAMES = frozenset(f.name for f in fields(FakeOptions))
