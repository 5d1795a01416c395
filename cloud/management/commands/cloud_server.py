"""The embedded cloud: moto's AWS server on this machine, in the foreground (Procfile)."""

import os

from django.core.management.base import BaseCommand, CommandError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
        main(["--host", host, "--port", str(port)])
