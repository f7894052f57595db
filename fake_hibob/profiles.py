"""Permission profiles of the fake's service user, worded as HiBob admins see them.

Copied from the service-user setup guide on purpose, not imported from the tap: if the
tap's permission mapping drifts from HiBob's wording, tests comparing the two fail.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def view(section: str) -> str:
    return f"People > {section} > View selected employees' {section} sections"


def history(section: str) -> str:
    return f"People > {section} > View selected employees' {section} section histories"


BASIC = "People > Basic Info > View selected employees' Basic info sections"
WHOS_OUT = "Timeoff > See who's out today > See who's out today"
PENDING = (
    "Timeoff > Requests > Create, edit, and cancel people's requests that haven't been approved yet"
)
BALANCES = "Timeoff > Balance > See selected people's time off and sick leave balances"
TIME_OFF_SETTINGS = "Features > Time off > Settings > Manage company's time off settings"
IDENTIFICATION_EDIT = "People > Identification > Edit selected employees' Identification sections"
REPORTS = "Features > Reports > View reports according to people's data access rights"
PROFILE_CHANGES = "People > History > View selected employees' profile changes history"

SEED_REQUIRED = frozenset(
    {
        BASIC,
        view("Employment"),
        history("Employment"),
        PROFILE_CHANGES,
        view("Identification"),
        view("Lifecycle"),
        history("Lifecycle"),
        view("Personal"),
        view("Personal contact details"),
        view("Work"),
        history("Work"),
        view("Work contact details"),
    }
)
SEED_OPTIONAL = frozenset(
    {
        view("Address"),
        history("Address"),
        view("EEO"),
        view("Home"),
        view("Payroll"),
        history("Payroll"),
        BALANCES,
        PENDING,
        WHOS_OUT,
    }
)
SEED = SEED_REQUIRED | SEED_OPTIONAL
# Beyond the seed guide: the custom category "Equipment", People Analytics, Training and the
# histories of Home (dependents) and Identification (right to work).
EVERYTHING = SEED | {
    view("About"),
    TIME_OFF_SETTINGS,
    IDENTIFICATION_EDIT,
    view("Equipment"),
    view("People Analytics"),
    view("Training"),
    history("Training"),
    history("Home"),
    history("Identification"),
}
ALL_STATUSES = frozenset({"hired", "employed", "terminated"})


@dataclass(frozen=True)
class Profile:
    """What the service user may see."""

    name: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    in_group: bool = True
    lifecycle_statuses: frozenset[str] = ALL_STATUSES

    def grants(self, permission: str) -> bool:
        return self.in_group and permission in self.permissions

    def sees_category(self, section: str) -> bool:
        return self.grants(view(section))

    def table_access(self, section: str) -> str | None:
        """'history' (all rows), 'current' (current row only) or None (403)."""
        if self.grants(history(section)):
            return "history"
        if self.grants(view(section)):
            return "current"
        return None


# Saved reports (fake_hibob/reports.py) need a Features permission beyond the seed guide.
EVERYTHING = EVERYTHING | {REPORTS}

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile("all", EVERYTHING),
        Profile("seed", SEED),
        Profile("seed_minus_payroll", SEED - {view("Payroll"), history("Payroll")}),
        Profile(
            "no_personal",
            SEED - {view("Personal"), view("Identification"), IDENTIFICATION_EDIT},
        ),
        Profile("none", frozenset(), in_group=False),
        Profile("active_only", SEED, lifecycle_statuses=frozenset({"hired", "employed"})),
        Profile(
            "sections_only",
            frozenset(p for p in SEED if not p.endswith("section histories")),
        ),
        # A group with nothing but Basic info: every table and time-off endpoint answers
        # 403, which is what the doctor's denial budget (at most 5) is tested against.
        Profile("basic_only", frozenset({BASIC})),
    )
}
