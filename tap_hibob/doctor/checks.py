"""The check itself: the cheapest HiBob request per stream, within the 401/403 budget.

The doctor discovers the tenant exactly as the tap does (a TapHibob with the same config and
catalog: the same streams, the same selection, the same endpoints from the registry) and then
asks each stream's endpoint one small question. Streams that need the same permission share
one probe.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from singer_sdk.exceptions import ConfigValidationError, RetriableAPIError

from tap_hibob import endpoints
from tap_hibob.client import HibobClient
from tap_hibob.doctor.config import UsageError, doctor_config
from tap_hibob.doctor.findings import (
    choose_sample,
    current_rows_only,
    hidden_categories,
    table_rows,
)
from tap_hibob.doctor.model import (
    BUDGET_SPENT,
    LOGGER,
    MAX_DENIED,
    MAX_FIELD_GROUPS,
    MAX_FIELDS_PER_SEARCH,
    NO_GROUP,
    STATUS_FIELDS,
    TABLE_PROBE_LIMIT,
    TERMINATED_HIDDEN,
    Answer,
    FatalFindingError,
    Person,
    Report,
    Status,
    StreamCheck,
)
from tap_hibob.doctor.reports import check_reports
from tap_hibob.endpoints import ACCESS_SCOPE, Endpoint
from tap_hibob.errors import (
    HibobAPIError,
    HibobAuthError,
    HibobPermissionError,
    HibobWrongPathError,
)
from tap_hibob.field_types import HibobField
from tap_hibob.people import EmployeesStream, field_value
from tap_hibob.settings import PRODUCTION_URL, SANDBOX_URL, Settings
from tap_hibob.stream import HibobStream
from tap_hibob.tables import ActualPaymentsStream, BulkTableStream, PerEmployeeTableStream
from tap_hibob.tap import TapHibob
from tap_hibob.timeoff import PENDING_HINT_MIN_CHANGES
from tap_hibob.timeutil import rfc3339_millis

Probe = tuple[list[str], Callable[[], None]]


class Doctor:
    """Runs every check with the tap's own client and streams, and collects a Report."""

    def __init__(
        self,
        config: Mapping[str, Any],
        catalog: Mapping[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> None:
        self.config = doctor_config(config)
        self.catalog = dict(catalog) if catalog is not None else None
        self.now = now or datetime.now(UTC)
        self.checks: dict[str, StreamCheck] = {}
        self.streams: dict[str, HibobStream] = {}
        self.client: HibobClient | None = None
        self.people: list[Person] | None = None  # None: HiBob would not list employees
        self.sample: list[Person] = []
        self._memo: dict[str, Answer] = {}

    # Public ---------------------------------------------------------------------------

    def run(self) -> Report:
        problem = ""
        try:
            tap = self._discover()
            self.streams = {name: s for name, s in tap.streams.items()}  # type: ignore[misc]
            self.include_inactive = tap.settings.include_inactive
            self.settings = tap.settings
            self.checks = {
                name: StreamCheck(name, stream.selected) for name, stream in self.streams.items()
            }
            self.checks["employee_fields"].set(Status.OK, via=endpoints.FIELDS.shown)
            check_reports(self)  # no request: discovery read the report list
            people = self._check_people()
            lists = self._check_named_lists()
            if people.denied and lists.denied:
                problem = NO_GROUP
            else:
                for names, probe in self._ordered_probes():
                    if self.denied >= MAX_DENIED:
                        for name in names:
                            self.checks[name].set(Status.NOT_CHECKED, note=BUDGET_SPENT)
                        continue
                    probe()
        except FatalFindingError as stop:
            problem = str(stop)
        return Report(
            api_url=self._api_url(),
            service_user_id=str(self.config.get("service_user_id", "")),
            checks=list(self.checks.values()),
            problem=problem,
            requests=self.client.total_requests if self.client else 0,
            denied=self.denied,
        )

    @property
    def denied(self) -> int:
        if self.client is None:
            return 0
        return self.client.statuses[401] + self.client.statuses[403]

    def _api_url(self) -> str:
        url = self.config.get("api_url")
        if url:
            return str(url).rstrip("/")
        return SANDBOX_URL if self.config.get("sandbox") else PRODUCTION_URL

    # Discovery ------------------------------------------------------------------------

    def _discover(self) -> TapHibob:
        """The tap's own discovery: fields, tables and custom tables metadata (no permission
        needed, so a 401 here means the credentials, after exactly one request)."""
        try:
            settings = Settings.from_config(self.config)
        except (KeyError, TypeError, ValueError):
            settings = None  # the tap's validation below names the problem
        if settings is not None:
            self.client = HibobClient(settings, LOGGER)
        try:
            return _DoctorTap(
                client=self.client,
                config=self.config,
                catalog=self.catalog,
                parse_env_config=False,
                validate_config=True,
            )
        except ConfigValidationError as exc:
            raise UsageError("Config is invalid: " + "; ".join(exc.errors)) from None
        except (HibobAuthError, HibobWrongPathError) as exc:
            raise FatalFindingError(str(exc)) from None
        except (HibobAPIError, RetriableAPIError) as exc:
            raise FatalFindingError(f"HiBob's field metadata could not be read: {exc}") from None
        except requests.exceptions.RequestException as exc:
            raise FatalFindingError(
                f"Could not talk to HiBob at {self._api_url()}: {type(exc).__name__}; check "
                "api_url and the network"
            ) from None

    # Requests -------------------------------------------------------------------------

    def _ask(
        self,
        endpoint: Endpoint,
        *,
        stream: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        shown: str = "",
        path: Mapping[str, object] | None = None,
    ) -> Answer:
        """One probe. `shown` names the request in messages (paths with ids never shown)."""
        assert self.client is not None
        if self.denied >= MAX_DENIED:
            return Answer(skipped=True)
        shown = shown or endpoint.shown
        try:
            if endpoint.method == "POST":
                response = self.client.post(endpoint, body or {}, stream=stream, path=path)
            else:
                response = self.client.get(endpoint, stream=stream, params=params, path=path)
        except HibobAuthError as exc:
            raise FatalFindingError(str(exc)) from None
        except HibobPermissionError:
            return Answer(denied=True, status=403)
        except HibobWrongPathError:
            return Answer(error=f"HiBob answered {shown} with its web page: no such endpoint")
        except HibobAPIError as exc:
            return Answer(error=f"HiBob refused {shown} ({exc.status})", status=exc.status)
        except RetriableAPIError:
            return Answer(error=f"HiBob kept failing on {shown} (gave up after retries)")
        except requests.exceptions.RequestException as exc:
            raise FatalFindingError(
                f"Could not talk to HiBob at {self._api_url()}: {type(exc).__name__}; check "
                "api_url and the network"
            ) from None
        return Answer(response.payload, response.headers)

    def _once(self, key: str, ask: Callable[[], Answer]) -> Answer:
        """One request per question, however many checks need its answer."""
        if key not in self._memo:
            self._memo[key] = ask()
        return self._memo[key]

    def _permission(self, name: str) -> tuple[str, str]:
        stream = self.streams[name]
        spec = stream.spec
        if spec is None:
            return "", ""
        return spec.endpoint.permission, spec.endpoint.note

    def _deny(self, streams: Iterable[str], via: str, note: str = "") -> None:
        for name in streams:
            permission, default_note = self._permission(name)
            detail = note or default_note
            if not permission:
                detail = "HiBob denied it (403); " + (default_note or "no permission documented")
            self.checks[name].set(Status.MISSING, permission=permission, note=detail, via=via)

    def _settle(self, streams: Iterable[str], answer: Answer, via: str) -> bool:
        """Record a denied/skipped/failed answer on `streams`; True when the answer is usable."""
        names = list(streams)
        if answer.denied:
            self._deny(names, via)
        elif answer.skipped:
            for name in names:
                self.checks[name].set(Status.NOT_CHECKED, note=BUDGET_SPENT)
        elif answer.error:
            for name in names:
                self.checks[name].set(Status.NOT_CHECKED, note=answer.error, via=via)
        else:
            for name in names:
                self.checks[name].set(Status.OK, via=via)
        return answer.ok

    # Checks ---------------------------------------------------------------------------

    @property
    def _employees(self) -> EmployeesStream:
        stream = self.streams["employees"]
        assert isinstance(stream, EmployeesStream)
        return stream

    def _status_fields(self) -> list[HibobField]:
        known = {f.id: f for f in self._employees.fields}
        return [
            known.get(fid) or HibobField(fid, fid, "", "", "", tuple(fid.split(".")))
            for fid in ("root.id", *STATUS_FIELDS)
        ]

    def _check_people(self) -> Answer:
        """Basic access: every visible employee's id, lifecycle status and start date."""
        search = endpoints.PEOPLE_SEARCH
        metas = self._status_fields()
        answer = self._ask(
            search,
            stream="employees",
            body={"fields": [m.id for m in metas], "showInactive": self.include_inactive},
        )
        if not self._settle(["employees"], answer, search.shown):
            if answer.denied:
                # Tasks need the same Basic info permission: no second 403 for it.
                self._deny(["tasks"], f"{search.shown} (same permission)")
            return answer
        self.people = [self._person(e, metas) for e in _employees(answer.payload)]
        self.people = [p for p in self.people if p.id]
        self.sample = choose_sample(self.people)
        check = self.checks["employees"]
        if not self.people:
            check.set(
                Status.MISSING,
                permission=endpoints.BASIC_INFO,
                note="HiBob lists no employees: the group lacks this permission (it is what "
                "surfaces employees), or its 'Whose data can members access?' selects nobody "
                f"(set it to {ACCESS_SCOPE})",
                via=search.shown,
            )
        elif self.include_inactive and all(p.terminated is False for p in self.people):
            check.worsen(Status.PARTIAL, TERMINATED_HIDDEN)
        return answer

    @staticmethod
    def _person(employee: Mapping[str, Any], metas: Sequence[HibobField]) -> Person:
        values = {m.id: field_value(employee, m) for m in metas}
        seen_id, person_id = values["root.id"]
        if not seen_id:
            person_id = employee.get("id")
        has_lifecycle, lifecycle = values["internal.lifecycleStatus"]
        has_status, status = values["internal.status"]
        terminated: bool | None = None
        if has_lifecycle and lifecycle:
            terminated = str(lifecycle).lower() == "terminated"
        elif has_status and status:
            terminated = str(status).lower() == "inactive"
        _, start = values["work.startDate"]
        return Person(str(person_id or ""), str(start) if start else None, terminated)

    def _check_named_lists(self) -> Answer:
        endpoint = endpoints.NAMED_LISTS
        answer = self._ask(endpoint, stream="named_lists", params={"includeArchived": "true"})
        self._settle(["named_lists"], answer, endpoint.shown)
        return answer

    def _ordered_probes(self) -> list[Probe]:
        probes: list[Probe] = [
            (["employees"], self._check_employee_fields),
            (["tasks"], self._check_tasks),
        ]
        for group in self._table_groups():
            probes.append((group, functools.partial(self._check_table, group)))
        probes += [
            # One probe: who's out answers for the changes too, even once the budget is spent.
            (["whos_out", "time_off_requests"], self._check_time_off),
            (["time_off_policy_types"], self._check_policy_types),
            (["time_off_balances"], self._check_balances),
        ]
        probes = [(names, probe) for names, probe in probes if all(n in self.checks for n in names)]
        # Selected streams first: if the denial budget runs out, it runs out on the rest.
        return sorted(probes, key=lambda p: not any(self.checks[s].selected for s in p[0]))

    def _table_groups(self) -> list[list[str]]:
        """Table streams grouped by permission: one probe answers for the whole group."""
        groups: dict[str, list[str]] = {}
        for name, stream in self.streams.items():
            if isinstance(stream, BulkTableStream | PerEmployeeTableStream | ActualPaymentsStream):
                groups.setdefault(self._permission(name)[0] or name, []).append(name)
        # A documented bulk route answers for its group; per-employee and search routes
        # only when alone.
        order = [spec.name for spec in endpoints.known_streams()]
        for names in groups.values():
            names.sort(
                key=lambda n: (
                    not isinstance(self.streams[n], BulkTableStream),
                    order.index(n) if n in order else len(order),
                )
            )
        return list(groups.values())

    def _check_employee_fields(self) -> None:
        """Silent omission: all selected fields for a handful of employees, by category."""
        check = self.checks["employees"]
        if check.status == Status.MISSING or not self.sample:
            return
        fields = self._employees.selected_fields()
        groups = [
            fields[i : i + MAX_FIELDS_PER_SEARCH]
            for i in range(0, len(fields), MAX_FIELDS_PER_SEARCH)
        ]
        if len(groups) > MAX_FIELD_GROUPS:
            check.notes.append(
                f"only the first {MAX_FIELD_GROUPS * MAX_FIELDS_PER_SEARCH} of {len(fields)} "
                "selected fields were checked"
            )
            groups = groups[:MAX_FIELD_GROUPS]
        filters = [
            {"fieldPath": "root.id", "operator": "equals", "values": [p.id for p in self.sample]}
        ]
        masked: list[str] = []
        for group in groups:
            answer = self._ask(
                endpoints.PEOPLE_SEARCH,
                stream="employees",
                body={
                    "fields": [f.id for f in group],
                    "filters": filters,
                    "showInactive": self.include_inactive,
                },
            )
            if not answer.ok:
                check.notes.append("selected fields not checked: " + (answer.error or BUDGET_SPENT))
                return
            employees = _employees(answer.payload)
            if not employees:
                check.notes.append(
                    "selected fields not checked: HiBob returned no sampled employee"
                )
                return
            check.categories += hidden_categories(group, employees)
            masked += [f.id for f in group if f.sensitive and _masked(employees, f)]
        if masked:
            check.worsen(
                Status.PARTIAL,
                f"HiBob masks {', '.join(masked)}; for full values add: "
                f"{endpoints.IDENTIFICATION_EDIT}",
            )
        if check.categories:
            check.worsen(
                Status.PARTIAL,
                "HiBob silently leaves out the fields of these categories (200 OK, no error):",
            )

    def _check_tasks(self) -> None:
        if self.checks["tasks"].status == Status.MISSING:
            return  # decided by the people search (same permission)
        endpoint = endpoints.TASKS
        answer = self._ask(endpoint, stream="tasks")
        if not self._settle(["tasks"], answer, endpoint.shown):
            return
        if self.settings.tasks_include_closed and self.sample:
            per_employee = endpoints.EMPLOYEE_TASKS
            answer = self._ask(
                per_employee,
                stream="tasks",
                path={"employee": self.sample[0].id},
                shown=per_employee.shown,
            )
            if not answer.ok:
                self._settle(["tasks"], answer, per_employee.shown)

    def _check_table(self, names: list[str]) -> None:
        first = self.streams[names[0]]
        if isinstance(first, BulkTableStream):
            answer, via = self._probe_bulk(first)
        elif isinstance(first, PerEmployeeTableStream):
            answer, via = self._probe_per_employee(first)
        else:
            answer, via = self._probe_payments(first)
        if not self._settle(names, answer, via):
            return
        for name in names[1:]:
            self.checks[name].checked_with = f"{via} (same permission as {names[0]})"
        rows, restricted, errors = table_rows(answer.payload)
        sampled = {p.id: p for p in self.sample}
        cut = current_rows_only(
            {e: r for e, r in rows.items() if e in sampled},
            sampled,
            lifecycle=names[0] == "lifecycle_history",
        )
        flagged = _flag(answer.headers.get("X-Has-Restricted-Columns"))
        for name in names:
            check = self.checks[name]
            if cut:
                check.permission = self._permission(name)[0]
                check.worsen(
                    Status.PARTIAL,
                    f"only each employee's current row comes back ({cut}): the group has "
                    "'... sections' but not '... section histories'",
                )
            if restricted or flagged:
                check.worsen(
                    Status.PARTIAL,
                    "columns hidden by field-level permissions: "
                    + (", ".join(sorted(restricted)) or "HiBob does not say which")
                    + " (grant them under People's data > People's fields)",
                )
            if errors:
                check.worsen(
                    Status.PARTIAL,
                    f"{errors} sampled employee(s) are outside this table's access; check "
                    f"'Whose data can members access?' ({ACCESS_SCOPE})",
                )

    def _probe_bulk(self, stream: BulkTableStream) -> tuple[Answer, str]:
        params: dict[str, Any] = {"limit": TABLE_PROBE_LIMIT}
        if self.sample:
            params["employeeIds"] = ",".join(p.id for p in self.sample)
        endpoint = stream.endpoint
        via = f"GET /v1{endpoint.url(**stream.path_values)}"
        answer = self._ask(
            endpoint, stream=stream.name, params=params, shown=via, path=stream.path_values
        )
        return answer, via

    def _probe_per_employee(self, stream: PerEmployeeTableStream) -> tuple[Answer, str]:
        endpoint = stream.endpoint
        if not self.sample:
            return Answer(error="no visible employee to check with"), endpoint.shown
        answer = self._ask(
            endpoint,
            stream=stream.name,
            path={"employee": self.sample[0].id},
            shown=endpoint.shown,
        )
        if answer.ok:  # one employee's rows, shaped like a bulk page for the row checks
            values = answer.payload.get("values") if isinstance(answer.payload, dict) else None
            answer.payload = {"results": [{"employeeId": self.sample[0].id, "values": values}]}
        return answer, endpoint.shown

    def _probe_payments(self, stream: HibobStream) -> tuple[Answer, str]:
        endpoint = endpoints.ACTUAL_PAYMENTS
        if not self.sample:
            return Answer(error="no visible employee to check with"), endpoint.shown
        body = {
            "filters": [
                {"fieldPath": "employeeId", "operator": "equals", "values": [self.sample[0].id]}
            ],
            "pagination": {"limit": 1},
        }
        return self._ask(endpoint, stream=stream.name, body=body), endpoint.shown

    def _whos_out(self, *, pending: bool) -> Answer:
        """Today's who's out, with the tap's flags (pending: as the sync asks, or not)."""
        today = self.now.date().isoformat()
        params = {
            "from": today,
            "to": today,
            "includeHourly": _text(self.settings.whos_out_include_hourly),
            "includePrivate": _text(self.settings.whos_out_include_private),
            "includePending": _text(pending),
        }
        return self._once(
            f"whos_out:{pending}",
            lambda: self._ask(endpoints.WHOS_OUT_ENDPOINT, stream="whos_out", params=params),
        )

    def _pending_denied(self) -> bool | None:
        """Whether HiBob denies pending leave only (True), who's out itself (None), or
        neither (False). A second request only when the first, with pending, is denied."""
        if not self._whos_out(pending=self.settings.include_pending).denied:
            return False
        if not self.settings.include_pending:
            return None
        return True if self._whos_out(pending=False).ok else None

    def _check_whos_out(self) -> None:
        via = endpoints.WHOS_OUT_ENDPOINT.shown
        pending = self._pending_denied()
        if pending:
            self.checks["whos_out"].set(
                Status.MISSING,
                permission=endpoints.PENDING,
                note="who's out is readable without pending leave, so the denial comes from "
                "include_pending (on by default): add this permission, or set include_pending "
                "to false",
                via=via,
            )
            return
        self._settle(["whos_out"], self._whos_out(pending=self.settings.include_pending), via)

    def _check_time_off(self) -> None:
        self._check_whos_out()
        self._check_time_off_requests()

    def _check_time_off_requests(self) -> None:
        endpoint = endpoints.TIME_OFF_CHANGES
        check = self.checks["time_off_requests"]
        pending_denied = self._pending_denied()
        if pending_denied is None:
            # Who's out is denied: the same permission, so no second 403 for it.
            self._deny(
                ["time_off_requests"], f"{endpoints.WHOS_OUT_ENDPOINT.shown} (same permission)"
            )
            return
        if pending_denied:
            check.set(
                Status.MISSING,
                permission=endpoints.PENDING,
                note="pending changes (include_pending, on by default) need this permission: "
                "add it, or set include_pending to false",
                via=f"{endpoints.WHOS_OUT_ENDPOINT.shown} (same permissions)",
            )
            return
        pending = self.settings.include_pending
        # A half-year window: enough changes to tell whether pending ones are left out.
        params = {
            "since": rfc3339_millis(self.now - timedelta(days=182)),
            "to": rfc3339_millis(self.now),
            "includePending": _text(pending),
        }
        answer = self._ask(endpoint, stream="time_off_requests", params=params)
        if not self._settle(["time_off_requests"], answer, endpoint.shown):
            return
        changes = answer.payload.get("changes") if isinstance(answer.payload, dict) else None
        kinds = [c.get("changeType") for c in changes or [] if isinstance(c, dict)]
        if pending and "Pending" not in kinds and len(kinds) >= PENDING_HINT_MIN_CHANGES:
            check.permission = endpoints.PENDING
            check.worsen(
                Status.PARTIAL,
                f"{len(kinds)} changes in the last half year and none Pending although "
                "include_pending is on: HiBob probably leaves pending changes out because this "
                "permission is missing (ignore this if no policy needs approval)",
            )

    def _policy_types(self) -> Answer:
        return self._once(
            "policy_types",
            lambda: self._ask(endpoints.POLICY_TYPES, stream="time_off_policy_types"),
        )

    def _check_policy_types(self) -> None:
        self._settle(["time_off_policy_types"], self._policy_types(), endpoints.POLICY_TYPES.shown)

    def _check_balances(self) -> None:
        check = self.checks["time_off_balances"]
        names = list(self.settings.balance_policy_types)
        if not names:
            answer = self._policy_types()
            if answer.denied:
                check.set(
                    Status.MISSING,
                    permission=endpoints.TIME_OFF_SETTINGS,
                    note="with balance_policy_types empty the stream reads policy type names "
                    "from HiBob; add this permission or set balance_policy_types",
                    via=endpoints.POLICY_TYPES.shown,
                )
                return
            if not answer.ok:
                check.set(Status.NOT_CHECKED, note=answer.error or BUDGET_SPENT)
                return
            names = [str(n) for n in (answer.payload or {}).get("policyTypes") or []]
        active = [p for p in self.sample if not p.terminated]
        if not names:
            check.set(Status.NOT_APPLICABLE, note="HiBob lists no time-off policy types")
            return
        if not active:
            check.set(Status.NOT_CHECKED, note="no visible active employee to check with")
            return
        balance = endpoints.BALANCE
        answer = self._ask(
            balance,
            stream="time_off_balances",
            params={"policyType": names[0], "date": self.now.date().isoformat()},
            shown=balance.shown,
            path={"employee": active[0].id},
        )
        if answer.status == 404:
            answer.error += f"; is '{names[0]}' a policy type of this company?"
        self._settle(["time_off_balances"], answer, balance.shown)


class _DoctorTap(TapHibob):
    """The tap with the doctor's client (short retries), so the doctor counts every request
    and denial, discovery's included."""

    def __init__(self, *, client: HibobClient | None, **kwargs: Any) -> None:
        if client is not None:
            self.__dict__["client"] = client  # the tap's cached_property, filled in advance
        super().__init__(**kwargs)


def _employees(payload: Any) -> list[Mapping[str, Any]]:
    found = payload.get("employees") if isinstance(payload, Mapping) else None
    return [e for e in found or [] if isinstance(e, Mapping)]


def _masked(employees: Sequence[Mapping[str, Any]], field: HibobField) -> bool:
    """Whether HiBob obscures this (sensitive) field, e.g. an SSN as ***-**-1234."""
    return any("*" in str(field_value(e, field)[1] or "") for e in employees)


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() == "true"


def _text(value: bool) -> str:
    return "true" if value else "false"
