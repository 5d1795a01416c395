"""Health services. The recovery hook other parts build on is re-exported here."""

from .hooks import on_host_failed, on_host_recovered  # noqa: F401
