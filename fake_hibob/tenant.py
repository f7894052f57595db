"""A deterministic HiBob tenant of any size: the people every domain's data hangs off."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

FIRST_NAMES = [
    "Ada",
    "Zoë",
    "Łukasz",
    "José",
    "Amélie",
    "Søren",
    "Chloé",
    "Iñaki",
    "Mei",
    "Omar",
    "Priya",
    "Noah",
    "Björn",
    "Yūki",
    "Fatima",
    "Liam",
    "Anaïs",
    "Kwame",
    "Ola",
    "Ivan",
]
SURNAMES = [
    "Lovelace",
    "Müller",
    "O'Brien",
    "García",
    "Nguyễn",
    "Kowalski",
    "Dubois",
    "Smith",
    "Okafor",
    "Rossi",
    "Haddad",
    "Andersson",
    "Tanaka",
    "Silva",
    "Novák",
    "李",
]
DEPARTMENTS = ["209192163", "209192164", "209192165", "209192166", "209192167"]
SITES = [(2606110, "London (Demo)"), (2606111, "New York (Demo)"), (2606112, "Tel Aviv (Demo)")]


@dataclass
class Employee:
    """One person in the tenant."""

    id: str
    first_name: str
    surname: str
    email: str
    lifecycle: str  # hired | employed | terminated
    start_date: date
    termination_date: date | None
    department: str
    site_id: int
    site: str
    manager_id: str | None
    index: int

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.surname}"

    def reference(self) -> dict[str, str]:
        """How HiBob embeds a person in another record (reportsTo, task owner, ...)."""
        return {
            "id": self.id,
            "firstName": self.first_name,
            "surname": self.surname,
            "email": self.email,
            "displayName": self.display_name,
        }

    @property
    def status(self) -> str:
        """internal.status: Active for hired/employed, Inactive once terminated."""
        return "Inactive" if self.lifecycle == "terminated" else "Active"


@dataclass
class Tenant:
    """Employees plus a cache each domain module fills with its own data."""

    employees: list[Employee]
    now: datetime
    seed: int
    custom_fields: int = 3
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def generate(
        cls,
        employees: int = 20,
        *,
        seed: int = 7,
        now: datetime | None = None,
        custom_fields: int = 3,
        terminated_share: float = 0.15,
    ) -> Tenant:
        rng = random.Random(seed)
        now = now or datetime.now(UTC)
        people: list[Employee] = []
        for i in range(employees):
            roll = rng.random()
            lifecycle = (
                "terminated"
                if roll < terminated_share
                else "hired"
                if roll < terminated_share + 0.04
                else "employed"
            )
            start = (now - timedelta(days=rng.randint(40, 3000))).date()
            if lifecycle == "hired":
                start = (now + timedelta(days=rng.randint(5, 60))).date()
            end = (
                start + timedelta(days=rng.randint(30, max(31, (now.date() - start).days - 1)))
                if lifecycle == "terminated"
                else None
            )
            first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
            site_id, site = SITES[i % len(SITES)]
            people.append(
                Employee(
                    id=str(3332883894235038486 + i * 7919),
                    first_name=first,
                    surname=last,
                    email=f"person{i}@example.com",
                    lifecycle=lifecycle,
                    start_date=start,
                    termination_date=end,
                    department=DEPARTMENTS[i % len(DEPARTMENTS)],
                    site_id=site_id,
                    site=site,
                    manager_id=people[(i - 1) // 5].id if i else None,
                    index=i,
                )
            )
        return cls(people, now, seed, custom_fields)

    def rng(self, purpose: str) -> random.Random:
        """A generator private to one kind of data, so domains stay independent."""
        return random.Random(f"{self.seed}:{purpose}")
