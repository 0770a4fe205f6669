from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from django_mobile_sync.management.options import add_database_argument, database_alias
from django_mobile_sync.ops.doctor import ERROR, INFO, LEVEL_NAMES, OK, WARNING, diagnose

FAIL_LEVELS = {"warning": WARNING, "error": ERROR, "never": ERROR + 1}


class Command(BaseCommand):
    help = (
        "Check a deployment of django-mobile-sync: configuration (system checks), the "
        "throttle cache's sharing, the indexes pulls use, database settings behind the "
        "change cursor, and housekeeping. Prints what to fix; exits 1 when a finding "
        "reaches --fail-level."
    )

    def add_arguments(self, parser: Any) -> None:
        add_database_argument(parser, help="Database alias to inspect.")
        parser.add_argument(
            "--fail-level",
            choices=list(FAIL_LEVELS),
            default="error",
            help="Exit with status 1 when a finding is at least this serious (default: error).",
        )
        parser.add_argument(
            "--deploy", action="store_true", help="Include Django's deployment checks."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        findings = diagnose(database_alias(options["database"]), deploy=options["deploy"])
        style = {
            OK: self.style.SUCCESS,
            INFO: self.style.HTTP_INFO,
            WARNING: self.style.WARNING,
            ERROR: self.style.ERROR,
        }
        for finding in findings:
            label = style[finding.level](f"[{LEVEL_NAMES[finding.level]}]")
            self.stdout.write(f"{label} {finding.topic}: {finding.message}")
            if finding.fix:
                self.stdout.write(f"    fix: {finding.fix}")
        counts = {
            name: sum(f.level == level for f in findings)
            for level, name in LEVEL_NAMES.items()
            if level >= WARNING
        }
        summary = ", ".join(f"{count} {name}(s)" for name, count in counts.items())
        threshold = FAIL_LEVELS[options["fail_level"]]
        failing = [f for f in findings if f.level >= threshold]
        if failing:
            raise CommandError(
                f"sync_doctor: {summary}; fix the findings above "
                f"(--fail-level {options['fail_level']}).",
                returncode=1,
            )
        self.stdout.write(f"sync_doctor: {summary}.")
