from tests.conftest import new_id, pull, push


def test_push_then_pull(client):
    mid = new_id()
    r = push(client, [{"mobile_id": mid, "title": "Fix pump"}])
    assert r.status_code == 200, r.content
    assert r.json()["synced_items"] == [{"mobile_id": mid, "status": "created", "server_version": 1}]
    page = pull(client)
    assert page.status_code == 200, page.content
    print(page.json())
    assert page.json()["items"][0]["title"] == "Fix pump"
