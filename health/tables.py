"""A health column for any django-tables2 table of hosts:

    from health.tables import HealthColumn
    class HostTable(tables.Table):
        health = HealthColumn()

Its queryset should `select_related("health")` (or use health.selectors.with_health) so the
column costs no query per row."""

import django_tables2 as tables

from .templatetags.health import health_badge


class HealthColumn(tables.Column):
    def __init__(self, **kwargs):
        kwargs.setdefault("verbose_name", "Health")
        kwargs.setdefault("empty_values", ())
        kwargs.setdefault("order_by", ("health__state",))
        super().__init__(**kwargs)

    def render(self, record):
        return health_badge(record)
