"""Signals other apps listen to (fencing and HA restart build on `host_failed`).

Both are sent after the detection's transaction committed, with `host` (the inventory
Host) and `evidence` (a JSON-able dict: the failed checks, when, their messages)."""

from django.dispatch import Signal

host_failed = Signal()
host_recovered = Signal()
