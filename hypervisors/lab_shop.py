"""The demo shop's app service, as it runs on the lab's app server (luna): not part of the
console. The lab copies it onto the host's disk and runs it there with the system's
Python (the project's venv lives under this machine's /root, which a lab host does not
see) and PostgreSQL's own client:

    python3 shop.py LISTEN_ADDRESS PORT DATABASE_ADDRESS REQUEST_LOG PSQL

GET / answers with the number of orders and the latest one, read from the shop database
on the database server at each request, and appends a line to REQUEST_LOG (on the host's
own disk, so the disk changes while it serves). Without its database it answers 503.
"""

import json
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# One round trip, the answer built as JSON by the database itself.
QUERY = """SELECT json_build_object(
    'orders', (SELECT count(*) FROM orders),
    'latest', (SELECT row_to_json(o) FROM (SELECT * FROM orders ORDER BY id DESC LIMIT 1) o))"""


def read_orders(psql, database_address):
    if not database_address:
        raise OSError("this lab has no database server")
    result = subprocess.run(
        [psql, "-X", "-A", "-t", "-h", database_address, "-U", "postgres", "-d", "shop", "-c", QUERY],
        capture_output=True, text=True, timeout=10, env={"PGCONNECT_TIMEOUT": "3"},
    )
    if result.returncode != 0:
        raise OSError(result.stderr.strip() or f"psql exited with {result.returncode}")
    return json.loads(result.stdout)


def handler(database_address, request_log, psql):
    class Shop(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/":
                return self._answer(404, {"error": "not found"})
            try:
                body, status = read_orders(psql, database_address), 200
            except (OSError, subprocess.SubprocessError, ValueError) as exc:
                body, status = {"error": f"database {database_address}: {exc}"}, 503
            with open(request_log, "a") as log:
                log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {self.client_address[0]} GET / {status} "
                          f"orders={body.get('orders')}\n")
            self._answer(status, {"database": database_address, **body})

        def _answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass  # the request log above is the service's log

    return Shop


def main(address, port, database_address, request_log, psql):
    ThreadingHTTPServer((address, int(port)), handler(database_address, request_log, psql)).serve_forever()


if __name__ == "__main__":
    main(*sys.argv[1:6])
