"""docs/tutorial.md runs: its steps, replayed through HTTP, answer what the page shows.

The JSON blocks of the tutorial are compared with the real responses of the same requests:
same keys everywhere, same statuses, versions and messages; only timestamps, cursors and
the demo records (which differ per run) are left out. The steps run twice: through the test
client, and as the page's own commands (every ``curl`` line, the ``sync_user`` line, the
admin login) against the example served as ``make example`` serves it.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import shlex
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.helpers.devices import PREFIX

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
TASK = "7d1c1f9e-0f5b-4c0e-9a53-2b1d0c6e8a41"
VOLATILE = {"timestamp", "cursor", "next_cursor", "next_timestamp", "updated_at"}


def json_blocks() -> list[Any]:
    text = TUTORIAL.read_text()
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]


def shape(value: Any) -> Any:
    """The value with volatile parts blanked, keeping keys, statuses and messages."""
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in VOLATILE else shape(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return value


def test_tutorial_steps_answer_what_the_page_shows(alice, bob):
    create, pull_page, update, conflict, refused, multi_push, multi_pull = json_blocks()
    entry = {
        "mobile_id": TASK,
        "version": 0,
        "jobdesc": "Replace the lobby air filter",
        "priority": "MEDIUM",
        "jobtype": "ADHOC",
        "jobstatus": "ASSIGNED",
        "plandatetime": "2026-12-01T09:00:00Z",
        "expirydatetime": "2026-12-01T11:00:00Z",
    }
    first = alice.push("activity", [entry], key="2b1d0c6e-8a41-4c0e-9a53-7d1c1f9e0f5b")
    assert shape(first.json()) == shape(create)
    again = alice.push("activity", [entry], key="2b1d0c6e-8a41-4c0e-9a53-7d1c1f9e0f5b")
    assert again["Idempotent-Replayed"] == "true" and again.content == first.content

    page = alice.pull("activity", limit=2).json()
    assert set(page) == set(pull_page)
    assert set(page["items"][0]) == set(pull_page["items"][0])

    step4 = alice.push("activity", [{"mobile_id": TASK, "version": 1, "jobstatus": "INPROGRESS"}])
    assert shape(step4.json()) == shape(update)

    step5 = bob.push("activity", [{"mobile_id": TASK, "version": 1, "priority": "HIGH"}])
    assert shape(step5.json()) == shape(conflict)

    step6 = alice.push("activity", [{"mobile_id": TASK, "version": 2, "jobstatus": "ASSIGNED"}])
    assert shape(step6.json()) == shape(refused)

    step7 = alice.api.post(f"{PREFIX}sync/", multi_push_body(), format="json")
    assert shape(step7.json()) == shape(multi_push)
    multi_page = alice.api.get(f"{PREFIX}changes/", {"domains": "work-orders,checklist"}).json()
    assert same_page_shape(multi_page, multi_pull)


def multi_push_body() -> dict[str, Any]:
    """Step 7's request: the work order and its two steps, children first."""
    text = TUTORIAL.read_text()
    command = text[text.index("curl -sS -X POST $API/sync/") :].split("```")[0]
    return json.loads(shlex.split(command.replace("\\\n", " "))[-1])


def same_page_shape(page: dict[str, Any], shown: dict[str, Any]) -> bool:
    """A multi-domain page has the keys the page shows, down to each domain's items."""
    assert set(page) == set(shown) and set(page["changes"]) == set(shown["changes"])
    for domain, items in shown["changes"].items():
        assert page["changes"][domain], domain
        assert set(page["changes"][domain][0]) == set(items[0]), domain
    return True


# -- the same page, replayed against the example as `make example` serves it ------------------


def sh_commands() -> list[str]:
    """The shell commands of the tutorial's ```sh blocks, continuation lines joined.

    A command starts at the beginning of a line; its continuation lines are indented.
    """
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", TUTORIAL.read_text(), re.S):
        for line in block.splitlines():
            if line and not line[0].isspace():
                commands.append(line)
            elif commands:
                commands[-1] += "\n" + line
    return [command.replace("\\\n", " ") for command in commands]


def curl(command: str, variables: dict[str, str]) -> dict[str, Any]:
    """The request a ``curl`` line of the page sends: method, URL, headers and body."""
    for name, value in variables.items():
        command = command.replace(f"${name}", value)
    args = shlex.split(command)
    assert args[0] == "curl", command
    request: dict[str, Any] = {"method": "GET", "headers": {}, "body": None}
    words = iter(args[1:])
    for word in words:
        if word == "-X":
            request["method"] = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(": ")
            request["headers"][name] = value
        elif word == "-d":
            request["body"] = next(words).encode()
        elif word.startswith("http"):
            request["url"] = word
        else:
            assert word in ("-sS", "-i"), f"{word}: an option this test does not replay"
    return request


class AdminSession:
    """A browser's cookies on the admin: the login form, then pages."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            assert response.status == 200, path
            return response.read().decode()

    def log_in(self, username: str, password: str) -> str:
        page = self.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]  # type: ignore[index]
        form = {"csrfmiddlewaretoken": token, "username": username, "password": password}
        request = urllib.request.Request(
            f"{self.base}/admin/login/?next=/admin/",
            data=urllib.parse.urlencode(form).encode(),
            headers={"Referer": f"{self.base}/admin/login/"},
        )
        with self.opener.open(request, timeout=30) as response:
            assert response.url == f"{self.base}/admin/", "the login did not take"
            return response.read().decode()


def test_tutorial_replayed_against_the_served_example(demo_example: Any) -> None:
    server = demo_example
    text = TUTORIAL.read_text()
    # 1. make example: the demo users, their tenants and the admin login, as the page shows.
    shown = re.search(r"```text\n(.*?)```", text, re.S)[1]  # type: ignore[index]
    printed = "\n".join(
        line
        for line in server.manage("seed_demo").splitlines()
        if "token" in line or "Admin" in line
    )
    assert re.sub(r"token \w+", "token <token>", printed) == re.sub(
        r"token \w+", "token <token>", shown.strip("\n")
    )
    commands = sh_commands()
    kinds = {"make example": [], "export ": [], "TOKEN=$(": [], "curl ": []}
    for command in commands:
        kind = next((k for k in kinds if command.startswith(k)), None)
        assert kind is not None, f"a command this test does not replay: {command}"
        kinds[kind].append(command)
    assert kinds["make example"] == ["make example"]
    assert kinds["export "] == [
        "export ALICE=<alice's token> BOB=<bob's token>",
        "export API=http://127.0.0.1:8000/api/v1/sync",
    ]
    variables = {
        "API": f"{server.url}/api/v1/sync",
        "ALICE": server.demo_tokens["alice"],
        "BOB": server.demo_tokens["bob"],
    }
    # The sync_user line: carol joins alice's tenant.
    [line] = kinds["TOKEN=$("]
    sync_user = re.fullmatch(
        r"TOKEN=\$\(\.venv/bin/python example_project/manage\.py (.*) \| tail -1\)", line
    )
    assert sync_user, line
    carol = server.manage(*shlex.split(sync_user[1])).splitlines()[-1]
    # The pages section 1 names answer.
    for path in ("/", "/api/docs/", "/api/schema/", "/health/", "/admin/login/"):
        assert server.request("GET", path)[0] == 200, path
    assert server.json("GET", "/health/")[1]["status"] == "ok"

    # 2-6. Every curl line, in order, answers what the page shows.
    requests = [curl(c, variables) for c in kinds["curl "]]
    assert [r["method"] for r in requests] == [
        "POST",
        "POST",  # the same push again, with curl -i: the replay
        "GET",
        "POST",
        "POST",
        "POST",
        "POST",
        "GET",
    ]
    replay_request = requests.pop(1)
    assert "-i" in kinds["curl "][1] and replay_request == requests[0]
    answers = []
    for request in requests:
        status, headers, raw = server.request(
            request["method"],
            request["url"].removeprefix(server.url),
            request["body"],
            headers=request["headers"],
        )
        assert status == 200, raw
        answers.append((headers, raw))
        if len(answers) == 1:  # the replay step follows the first push
            status, headers, raw = server.request(
                "POST",
                replay_request["url"].removeprefix(server.url),
                replay_request["body"],
                headers=replay_request["headers"],
            )
            shown = re.search(r"```http\n(.*?)```", text, re.S)[1]  # type: ignore[index]
            head, _, body = shown.partition("\n\n")
            status_line, *header_lines = head.splitlines()
            assert status_line == f"HTTP/1.1 {status} OK"
            for header in header_lines:
                name, _, value = header.partition(": ")
                assert headers[name] == value, (name, headers[name])
            assert raw == answers[0][1]  # the same bytes
            assert shape(json.loads(body.strip().replace("…", ""))) == shape(json.loads(raw))
    create, pull_page, update, conflict, refused, multi_push, multi_pull = json_blocks()
    assert shape(json.loads(answers[0][1])) == shape(create)
    assert shape(json.loads(answers[5][1])) == shape(multi_push)
    assert same_page_shape(json.loads(answers[6][1]), multi_pull)
    page = json.loads(answers[1][1])
    assert set(page) == set(pull_page) and set(page["items"][0]) == set(pull_page["items"][0])
    assert shape(json.loads(answers[2][1])) == shape(update)
    assert shape(json.loads(answers[3][1])) == shape(conflict)
    assert shape(json.loads(answers[4][1])) == shape(refused)
    # carol, in alice's tenant, pulls the task alice pushed.
    status, body = server.json("GET", "/api/v1/sync/activity/changes/?limit=1000", token=carol)
    assert status == 200 and TASK in [item["mobile_id"] for item in body["items"]]

    # 7. The admin: the demo login, bob's conflict, the analytics page.
    assert "admin', password 'admin'" in text
    admin = AdminSession(server.url)
    index = admin.log_in("admin", "admin")
    assert ">Sync analytics</a>" in index and ">Sync conflicts</a>" in index
    conflicts = admin.get(f"/admin/django_mobile_sync/syncconflict/?q={TASK}")
    assert conflicts.count(TASK) >= 1 and "tablet-2 (bob)" in conflicts
    assert "Items per hour" in admin.get("/admin/django_mobile_sync/syncanalytics/")
