"""The `id` path converter: `<id:pk>` in every URL that names an object by its id, in the
console's URLconfs and in the API routers (core.api.routers). Registered by CoreConfig.ready().

An id no database id column can hold is no URL of ours: the resolver answers 404 before any
view runs, the same for the console and the API, so no view can forget the check."""

import re

from .integers import largest_id


class IdConverter:
    regex = "[0-9]+"

    def to_python(self, value):
        number = int(value)  # ValueError (so: no match, a 404) beyond Python's 4300 digits too
        if number > largest_id():
            raise ValueError(f"{value} is beyond the largest id a database column can hold")
        return number

    def to_url(self, value):
        return str(value)


def parse_id(value):
    """The id a query-string or form value names, the converter's way; None when it names
    none ("", "abc", "²" which str.isdigit() accepts, an id beyond any id column)."""
    value = str(value if value is not None else "")
    if not re.fullmatch(IdConverter.regex, value):
        return None
    try:
        return IdConverter().to_python(value)
    except ValueError:
        return None
