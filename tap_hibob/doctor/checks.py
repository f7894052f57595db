"""The check itself: the cheapest HiBob request per stream, within the 401/403 budget."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from singer_sdk.exceptions import RetriableAPIError

from tap_hibob import people, permissions, settings
from tap_hibob.client import HibobClient
from tap_hibob.doctor.config import doctor_config
from tap_hibob.doctor.findings import (
    bulk_path,
    choose_sample,
    current_rows_only,
    field_value,
    hidden_categories,
    iso,
    table_groups,
    table_rows,
)
from tap_hibob.doctor.model import (
    ACCESS_SCOPE,
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
    Selection,
    Status,
    StreamCheck,
)
from tap_hibob.errors import (
    HibobAPIError,
    HibobAuthError,
    HibobPermissionError,
    HibobWrongPathError,
)
from tap_hibob.field_types import HibobField, parse_fields
from tap_hibob.permissions import STREAM_ACCESS

# The check ---------------------------------------------------------------------------------


class Doctor:
    """Runs every check with one HibobClient and collects a Report."""

    def __init__(
        self,
        config: Mapping[str, Any],
        selection: Selection | None = None,
        *,
        client: HibobClient | None = None,
        now: datetime | None = None,
    ) -> None:
        self.config = config
        self.selection = selection or Selection.default()
        self.client = client or HibobClient(doctor_config(config), LOGGER)
        self.now = now or datetime.now(UTC)
        self.include_inactive = bool(config.get("include_inactive", True))
        self.checks = {
            name: StreamCheck(name, self.selection.streams.get(name, False))
            for name in STREAM_ACCESS
        }
        self.fields: list[HibobField] = []
        self.people: list[Person] | None = None  # None: HiBob would not list employees
        self.sample: list[Person] = []
        self._memo: dict[str, Answer] = {}

    # Public ---------------------------------------------------------------------------

    def run(self) -> Report:
        problem = ""
        try:
            self._check_fields_metadata()
            people = self._check_people()
            lists = self._check_named_lists()
            if people.denied and lists.denied:
                problem = NO_GROUP
            else:
                for streams, probe in self._ordered_probes():
                    if self.denied >= MAX_DENIED:
                        for name in streams:
                            self.checks[name].set(Status.NOT_CHECKED, note=BUDGET_SPENT)
                        continue
                    probe()
        except FatalFindingError as stop:
            problem = str(stop)
        return Report(
            api_url=settings.api_base(self.config),
            service_user_id=str(self.config.get("service_user_id", "")),
            checks=list(self.checks.values()),
            problem=problem,
            requests=self.client.total_requests,
            denied=self.denied,
        )

    @property
    def denied(self) -> int:
        return self.client.statuses[401] + self.client.statuses[403]

    # Requests -------------------------------------------------------------------------

    def _ask(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        stream: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        shown: str = "",
    ) -> Answer:
        """One probe. `shown` names the request in messages when its path holds an id."""
        if self.denied >= MAX_DENIED:
            return Answer(skipped=True)
        shown = shown or f"{method} /v1{path}"
        try:
            if method == "POST":
                response = self.client.post(path, body or {}, endpoint=endpoint, stream=stream)
            else:
                response = self.client.get(path, endpoint=endpoint, stream=stream, params=params)
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
                f"Could not talk to HiBob at {settings.api_base(self.config)}: "
                f"{type(exc).__name__}; check api_url and the network"
            ) from None
        return Answer(response.payload, response.headers)

    def _once(self, key: str, ask: Callable[[], Answer]) -> Answer:
        """One request per question, however many checks need its answer."""
        if key not in self._memo:
            self._memo[key] = ask()
        return self._memo[key]

    def _deny(self, streams: Iterable[str], via: str, note: str = "") -> None:
        for name in streams:
            access = STREAM_ACCESS[name]
            detail = note or access.note
            if not access.permission:
                detail = "HiBob denied it (403); " + (access.note or "no permission documented")
            self.checks[name].set(
                Status.MISSING, permission=access.permission, note=detail, via=via
            )

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

    def _check_fields_metadata(self) -> None:
        """First request: needs no permission, so a 401 here means the credentials."""
        try:
            metadata = people.field_metadata(self.client, stream="employee_fields")
        except (HibobAuthError, HibobWrongPathError) as exc:
            raise FatalFindingError(str(exc)) from None
        except (HibobAPIError, RetriableAPIError) as exc:
            raise FatalFindingError(f"HiBob's field metadata could not be read: {exc}") from None
        except requests.exceptions.RequestException as exc:
            raise FatalFindingError(
                f"Could not talk to HiBob at {settings.api_base(self.config)}: "
                f"{type(exc).__name__}; check api_url and the network"
            ) from None
        self.fields = parse_fields(metadata)
        self.checks["employee_fields"].set(Status.OK, via="GET /v1/company/people/fields")

    def _status_fields(self) -> list[HibobField]:
        known = {f.id: f for f in self.fields}
        return [
            known.get(fid) or HibobField(fid, fid, "", "", "", tuple(fid.split(".")))
            for fid in ("root.id", *STATUS_FIELDS)
        ]

    def _check_people(self) -> Answer:
        """Basic access: every visible employee's id, lifecycle status and start date."""
        via = "POST /v1/people/search"
        metas = self._status_fields()
        answer = self._ask(
            "POST",
            "/people/search",
            endpoint="people_search",
            stream="employees",
            body={"fields": [m.id for m in metas], "showInactive": self.include_inactive},
        )
        if not self._settle(["employees"], answer, via):
            if answer.denied:
                # Tasks need the same Basic info permission: no second 403 for it.
                self._deny(["tasks"], f"{via} (same permission)")
            return answer
        self.people = [self._person(e, metas) for e in _employees(answer.payload)]
        self.people = [p for p in self.people if p.id]
        self.sample = choose_sample(self.people)
        check = self.checks["employees"]
        if not self.people:
            check.set(
                Status.MISSING,
                permission=permissions.BASIC_INFO,
                note="HiBob lists no employees: the group lacks this permission (it is what "
                "surfaces employees), or its 'Whose data can members access?' selects nobody "
                f"(set it to {ACCESS_SCOPE})",
                via=via,
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
        answer = self._ask(
            "GET",
            "/company/named-lists",
            endpoint="named_lists",
            stream="named_lists",
            params={"includeArchived": "true"},
        )
        self._settle(["named_lists"], answer, "GET /v1/company/named-lists")
        return answer

    def _ordered_probes(self) -> list[tuple[list[str], Callable[[], None]]]:
        probes: list[tuple[list[str], Callable[[], None]]] = [
            (["employees"], self._check_employee_fields),
            (["tasks"], self._check_tasks),
        ]
        for group in table_groups():
            probes.append((group, functools.partial(self._check_table, group)))
        probes += [
            (["whos_out"], self._check_whos_out),
            (["time_off_requests"], self._check_time_off_requests),
            (["time_off_policy_types"], self._check_policy_types),
            (["time_off_balances"], self._check_balances),
        ]
        # Selected streams first: if the denial budget runs out, it runs out on the rest.
        return sorted(probes, key=lambda p: not any(self.checks[s].selected for s in p[0]))

    def _employee_fields(self) -> list[HibobField]:
        return [f for f in self.fields if self.selection.field_selected(f)]

    def _check_employee_fields(self) -> None:
        """Silent omission: all selected fields for a handful of employees, by category."""
        check = self.checks["employees"]
        if check.status == Status.MISSING or not self.sample:
            return
        fields = self._employee_fields()
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
                "POST",
                "/people/search",
                endpoint="people_search",
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
                f"HiBob masks {', '.join(masked)}; for full values add: {people.SSN_PERMISSION}",
            )
        if check.categories:
            check.worsen(
                Status.PARTIAL,
                "HiBob silently leaves out the fields of these categories (200 OK, no error):",
            )

    def _check_tasks(self) -> None:
        if self.checks["tasks"].status == Status.MISSING:
            return  # decided by the people search (same permission)
        answer = self._ask("GET", "/tasks", endpoint="tasks", stream="tasks")
        self._settle(["tasks"], answer, "GET /v1/tasks")

    def _check_table(self, streams: list[str]) -> None:
        first = streams[0]
        path = bulk_path(first)
        via = f"GET /v1{path}"
        params: dict[str, Any] = {"limit": TABLE_PROBE_LIMIT}
        if self.sample:
            params["employeeIds"] = ",".join(p.id for p in self.sample)
        answer = self._ask(
            "GET", path, endpoint="bulk_" + path.rsplit("/", 1)[1], stream=first, params=params
        )
        if not self._settle(streams, answer, via):
            return
        for name in streams[1:]:
            self.checks[name].checked_with = f"{via} (same permission as {first})"
        rows, restricted, errors = table_rows(answer.payload)
        sampled = {p.id: p for p in self.sample}
        cut = current_rows_only(
            {e: r for e, r in rows.items() if e in sampled},
            sampled,
            lifecycle=path.endswith("/lifecycle"),
        )
        flagged = _flag(answer.headers.get("X-Has-Restricted-Columns"))
        for name in streams:
            check = self.checks[name]
            if cut:
                check.permission = STREAM_ACCESS[name].permission
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

    def _whos_out(self) -> Answer:
        today = self.now.date().isoformat()
        return self._once(
            "whos_out",
            lambda: self._ask(
                "GET",
                "/timeoff/whosout",
                endpoint="whosout",
                stream="whos_out",
                params={"from": today, "to": today},
            ),
        )

    def _check_whos_out(self) -> None:
        self._settle(["whos_out"], self._whos_out(), "GET /v1/timeoff/whosout")

    def _check_time_off_requests(self) -> None:
        via = "GET /v1/timeoff/requests/changes"
        whos_out = self._whos_out()
        if whos_out.denied:
            # Same permission: no second 403 for it.
            self._deny(["time_off_requests"], "GET /v1/timeoff/whosout (same permission)")
            return
        pending = bool(self.config.get("include_pending", False))
        params = {
            "since": iso(self.now - timedelta(days=1)),
            "to": iso(self.now),
            "includePending": "true" if pending else "false",
        }
        answer = self._ask(
            "GET",
            "/timeoff/requests/changes",
            endpoint="timeoff_changes",
            stream="time_off_requests",
            params=params,
        )
        if answer.denied and pending and whos_out.ok:
            access = STREAM_ACCESS["time_off_requests"]
            self.checks["time_off_requests"].set(
                Status.MISSING,
                permission=access.permission,
                note="who's out is readable, so the denial comes from include_pending, "
                f"which needs {access.note.removeprefix('with include_pending: ')}; "
                "add it or set include_pending to false",
                via=via,
            )
            return
        self._settle(["time_off_requests"], answer, via)

    def _policy_types(self) -> Answer:
        return self._once(
            "policy_types",
            lambda: self._ask(
                "GET",
                "/timeoff/policy-types",
                endpoint="timeoff_policies",
                stream="time_off_policy_types",
            ),
        )

    def _check_policy_types(self) -> None:
        self._settle(
            ["time_off_policy_types"], self._policy_types(), "GET /v1/timeoff/policy-types"
        )

    def _check_balances(self) -> None:
        check = self.checks["time_off_balances"]
        names = [str(n) for n in self.config.get("balance_policy_types") or []]
        if not names:
            answer = self._policy_types()
            if answer.denied:
                access = STREAM_ACCESS["time_off_policy_types"]
                check.set(
                    Status.MISSING,
                    permission=access.permission,
                    note="with balance_policy_types empty the stream reads policy type names "
                    "from HiBob; add this permission or set balance_policy_types",
                    via="GET /v1/timeoff/policy-types",
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
        answer = self._ask(
            "GET",
            f"/timeoff/employees/{active[0].id}/balance",
            endpoint="timeoff_balance",
            stream="time_off_balances",
            params={"policyType": names[0], "date": self.now.date().isoformat()},
            shown="GET /v1/timeoff/employees/{id}/balance",
        )
        if answer.status == 404:
            answer.error += f"; is '{names[0]}' a policy type of this company?"
        self._settle(["time_off_balances"], answer, "GET /v1/timeoff/employees/{id}/balance")


def _employees(payload: Any) -> list[Mapping[str, Any]]:
    found = payload.get("employees") if isinstance(payload, Mapping) else None
    return [e for e in found or [] if isinstance(e, Mapping)]


def _masked(employees: Sequence[Mapping[str, Any]], field: HibobField) -> bool:
    """Whether HiBob obscures this (sensitive) field, e.g. an SSN as ***-**-1234."""
    return any("*" in str(field_value(e, field)[1] or "") for e in employees)


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() == "true"
