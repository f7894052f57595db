"""The Singer SDK's own standard tap tests, against the fake HiBob, every stream selected.

`get_tap_test_class` builds the tap while pytest collects tests (it lists the streams to
parametrize them), so the fake starts when this module is imported, not in a fixture. The
suite checks discovery, the connection, that each stream returns records matching its
schema, that records carry no property the catalog does not declare, and primary keys.
"""

from __future__ import annotations

import atexit
from typing import Any

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from fake_hibob import FakeHibob
from tap_hibob.tap import TapHibob
from tests.helpers import discover, tap_config

FAKE = FakeHibob(employees=40).start()
atexit.register(FAKE.stop)
CONFIG: dict[str, Any] = tap_config(
    FAKE,
    # Every optional stream too: balances need policy types (a feature permission the
    # fake's "all" profile has) and closed tasks their per-employee route.
    tasks_include_closed=True,
    emit_activate_version_messages=True,
)


def _everything_selected() -> dict[str, Any]:
    """Every stream and every property selected, those off by default too (`select_all`
    selects streams only)."""
    catalog = discover(CONFIG)
    for stream in catalog["streams"]:
        for item in stream["metadata"]:
            item["metadata"]["selected"] = True
    return catalog


TestTapHibobStandard = get_tap_test_class(
    TapHibob,
    config=CONFIG,
    catalog=_everything_selected(),
    parse_env_config=False,
    suite_config=SuiteConfig(max_records_limit=40),
)
