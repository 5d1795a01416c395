"""The integers a database column can hold.

A client's number that becomes an id or an integer filter is checked against these ranges
before any query: beyond them SQLite raises OverflowError deep in the query (a 500), where
PostgreSQL would only find nothing."""

from django.db import DEFAULT_DB_ALIAS, connections

# Every table's id is at most a BigAutoField (settings.DEFAULT_AUTO_FIELD; Django's own
# apps use the smaller AutoField).
ID_FIELD_TYPE = "BigAutoField"


def column_range(model_field, using=DEFAULT_DB_ALIAS):
    """(lowest, highest) value of the column that stores `model_field`; for a relation, of
    the column it points at. Columns that hold no integer get the widest (64-bit) range."""
    if model_field.is_relation:
        model_field = model_field.target_field
    operations = connections[using].ops
    try:
        return operations.integer_field_range(model_field.get_internal_type())
    except KeyError:
        return operations.integer_field_range("BigIntegerField")


def largest_id(using=DEFAULT_DB_ALIAS):
    return connections[using].ops.integer_field_range(ID_FIELD_TYPE)[1]
