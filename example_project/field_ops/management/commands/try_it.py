"""``manage.py try_it --port N``: curl commands to try the running example."""

from __future__ import annotations

import json
import shlex
import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rest_framework.authtoken.models import Token

from django_mobile_sync.management.options import add_database_argument, database_alias
from field_ops.demo import DEMO_USER, demo_admin, login_text
from field_ops.models import UserProfile


class Command(BaseCommand):
    help = "Print ready-to-paste curl commands that push a new task and pull the changes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--user", default=DEMO_USER, help="A user with a profile.")
        add_database_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        using = database_alias(options["database"])
        lookup = {get_user_model().USERNAME_FIELD: options["user"]}
        user = get_user_model()._default_manager.db_manager(using).filter(**lookup).first()
        profile = UserProfile.objects.using(using).filter(user=user).select_related("bu").first()
        if user is None or profile is None:
            raise CommandError(
                f"No user {options['user']!r} with a tenant: run "
                "'manage.py seed_demo' (or 'manage.py sync_user') first."
            )
        token = Token.objects.using(using).get_or_create(user=user)[0].key
        base = f"http://{options['host']}:{options['port']}"
        start = timezone.now().replace(microsecond=0) + timedelta(hours=1)
        body = {
            "client_id": "demo-phone",
            "entries": [
                {
                    "mobile_id": str(uuid.uuid4()),
                    "version": 0,
                    "jobdesc": "Check the emergency lighting",
                    "priority": "HIGH",
                    "jobtype": "ADHOC",
                    "gracetime": 15,
                    "plandatetime": start.isoformat().replace("+00:00", "Z"),
                    "expirydatetime": (start + timedelta(hours=2))
                    .isoformat()
                    .replace("+00:00", "Z"),
                }
            ],
        }
        auth = shlex.quote(f"Authorization: Bearer {token}")
        push = " \\\n  ".join(
            [
                f"curl -sS -i -X POST {base}/api/v1/sync/activity/sync/",
                f"-H {auth}",
                "-H 'Content-Type: application/json'",
                f"-H 'Idempotency-Key: {uuid.uuid4()}'",
                "-H 'X-Device-Id: demo-phone'",
                f"-d {shlex.quote(json.dumps(body))}",
            ]
        )
        pull = f"curl -sS '{base}/api/v1/sync/activity/changes/?limit=10' \\\n  -H {auth}"
        self.stdout.write(f"Demo user {user} ({profile.bu}); API token: {token}\n")
        self.stdout.write(
            "Push a new task (run it twice: the retry is replayed with "
            "'Idempotent-Replayed: true'):"
        )
        self.stdout.write(push + "\n")
        self.stdout.write("Pull the activity changes:")
        self.stdout.write(pull + "\n")
        self.stdout.write(f"API docs: {base}/api/docs/  health: {base}/health/")
        admin = demo_admin(using)
        if admin is not None:
            self.stdout.write(f"Admin: {base}/admin/  {login_text(*admin)}")
