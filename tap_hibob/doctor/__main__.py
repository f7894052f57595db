"""Allow `python -m tap_hibob.doctor`."""

from tap_hibob.doctor import main

main()
