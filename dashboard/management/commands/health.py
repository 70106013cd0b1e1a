"""`manage.py health [check ...]`: the /readyz checks from the command line (compose healthchecks for the
containers that serve no HTTP). Prints JSON; exits 1 when any check fails.

`--this-host`: the `scheduler` and `poller` checks ask for a live process (a fresh heartbeat) on this host, so
the healthcheck of the `sessions` / `poller` container says whether its own process works, whatever runs
elsewhere."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard import health


class Command(BaseCommand):
    help = ("Run readiness checks (database, cache, broker, storage, sweep, scheduler, poller); exit 1 if any "
            "fails.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("checks", nargs="*", metavar="check",
                            help=f"only these checks: {', '.join(health.CHECKS)} (default: all)")
        parser.add_argument("--this-host", action="store_true",
                            help="scheduler / poller: a process on this host must have a fresh heartbeat")

    def handle(self, *args: Any, checks: list[str], this_host: bool, **options: Any) -> None:
        if unknown := sorted(set(checks) - set(health.CHECKS)):
            raise CommandError(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(health.CHECKS)}")
        ok, results = health.readiness(checks or None, here=this_host)
        self.stdout.write(json.dumps({"status": "ok" if ok else "error", "checks": results}))
        if not ok:
            raise CommandError("not ready", returncode=1)
