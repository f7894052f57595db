"""Allow `python -m tap_hibob`."""

from tap_hibob.cli import main

main()
