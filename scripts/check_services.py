"""Usage: python scripts/check_services.py URL [URL...]

Says in one line which service is unreachable (PostgreSQL, Redis, RabbitMQ) before a
test run spends minutes failing on it. Connects for real, so bad credentials show too.
"""

import sys
from urllib.parse import urlsplit, urlunsplit


def check_postgres(url):
    import psycopg

    # The server's own database: the one in the URL may not exist yet (the tests create it).
    parts = urlsplit(url)
    psycopg.connect(urlunsplit(parts._replace(path="/postgres")), connect_timeout=5).close()


def check_redis(url):
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5).ping()


def check_amqp(url):
    from kombu import Connection

    with Connection(url, connect_timeout=5) as connection:
        connection.ensure_connection(max_retries=1)


CHECKS = {
    "postgres": ("PostgreSQL", check_postgres),
    "postgresql": ("PostgreSQL", check_postgres),
    "redis": ("Redis", check_redis),
    "amqp": ("RabbitMQ", check_amqp),
}


def main(urls):
    failed = False
    for url in urls:
        scheme = urlsplit(url).scheme
        if scheme not in CHECKS:
            continue  # embedded (SQLite, sqla+sqlite): nothing to reach
        name, check = CHECKS[scheme]
        where = urlsplit(url).hostname or "localhost"
        port = urlsplit(url).port
        try:
            check(url)
        except Exception as exc:  # any failure is reported the same way: the service is not usable
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            print(f"{name} is unreachable at {where}:{port} ({first_line})", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
