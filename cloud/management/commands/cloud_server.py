"""The embedded cloud: moto's AWS server on this machine, in the foreground (Procfile)."""

import logging
import os
import threading
import time
import urllib.error
import urllib.request

from django.core.management.base import BaseCommand, CommandError

LOOPBACK = ("127.0.0.1", "localhost", "::1")

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = ("Run the embedded cloud (moto's AWS server) in the foreground on 127.0.0.1. Unknown instance "
            "types are refused, as real AWS does. Stop it with Ctrl-C.")

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=5000)
        parser.add_argument("--host", default="127.0.0.1", help="Loopback only: the embedded cloud has no auth")

    def handle(self, *args, host, port, **options):
        if host not in LOOPBACK:
            raise CommandError(f"Refusing to listen on {host}: the embedded cloud accepts any credentials, "
                               f"so it only listens on the loopback interface.")
        # moto reads its settings from the environment when it is imported.
        os.environ["MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION"] = "true"
        os.environ.setdefault("MOTO_PORT", str(port))
        from moto.server import main

        self.stdout.write(f"Embedded cloud (moto) on http://{host}:{port}/", ending="\n")
        self.stdout.flush()
        # moto keeps its state in memory: once it answers, make what the embedded account names.
        threading.Thread(target=self.prepare, args=(f"http://{host}:{port}",), daemon=True).start()
        main(["--host", host, "--port", str(port)])

    def prepare(self, endpoint, timeout=60):
        """Once the server answers, make what the embedded account names; say how it went
        in one line ("Embedded cloud prepared: …" or "Embedded cloud not prepared: …")."""
        from cloud.services.accounts import prepare_embedded_server

        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    return self.said(f"Embedded cloud not prepared: it did not answer at {endpoint}.")
                time.sleep(0.2)
        try:
            made = prepare_embedded_server(endpoint)
        except Exception as exc:  # noqa: BLE001 - the server keeps serving; the review will say what is missing
            logger.exception("could not prepare the embedded cloud at %s", endpoint)
            return self.said(f"Embedded cloud not prepared: {exc}")
        self.said(f"Embedded cloud prepared: {', '.join(made) or 'nothing was missing'}.")

    def said(self, line):
        self.stdout.write(line, ending="\n")
        self.stdout.flush()
