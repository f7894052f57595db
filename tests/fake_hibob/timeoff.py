"""Fake HiBob routes of this domain (filled in by its issue)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fake_hibob.server import FakeHibob


def register(app: FakeHibob) -> None:
    """No routes yet."""
