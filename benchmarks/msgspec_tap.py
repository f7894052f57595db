"""tap-hibob with the SDK's msgspec message writer, to measure it against the default writer.

Needs the `fast` extra (msgspec): `pip install 'tap-hibob[fast]'`. Run as
`python -m benchmarks.msgspec_tap --config ...`; benchmarks.run does so with `--writer msgspec`.
"""

from __future__ import annotations

from singer_sdk.contrib.msgspec import MsgSpecWriter

from tap_hibob import cli
from tap_hibob.tap import TapHibob

if __name__ == "__main__":
    TapHibob.message_writer_class = MsgSpecWriter
    cli.main()
