"""A fake HiBob API for tests, benchmarks and the demo."""

from fake_hibob.options import FakeOptions
from fake_hibob.profiles import PROFILES, Profile
from fake_hibob.server import SERVICE_USER_ID, SERVICE_USER_TOKEN, FakeHibob, Faults
from fake_hibob.tenant import Employee, Tenant

__all__ = [
    "PROFILES",
    "SERVICE_USER_ID",
    "SERVICE_USER_TOKEN",
    "Employee",
    "FakeHibob",
    "FakeOptions",
    "Faults",
    "Profile",
    "Tenant",
]
