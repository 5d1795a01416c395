"""How many rows a client may ask for in one page: the console's lists (`?per_page=`,
through core.tables.Table) and the API's (`?limit=`, core.api.pagination)."""

# The console's lists show this many rows unless asked otherwise (their views say 50 too).
PAGE_SIZE = 50
# The most rows one page holds, in the console and the API alike: enough for a whole rack
# room on one page, not so many that one request renders the whole estate.
MAX_PAGE_SIZE = 1000


def page_size(requested, default=PAGE_SIZE):
    """The page size for a requested one: at most MAX_PAGE_SIZE; below 1 (or none) the default."""
    if requested is None or requested < 1:
        return default
    return min(requested, MAX_PAGE_SIZE)
