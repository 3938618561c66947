"""The admin shows regua's tables, read-only, to a superuser."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client
from orders import place_order

from regua import SQLRepository
from regua.integrations.django.models import Delivery
from regua.ports import ContactError

PAGES = ["contact", "event", "delivery", "failure", "error"]


@pytest.fixture
def admin(repository: SQLRepository, client: Client) -> Client:
    user = User.objects.create_superuser("boss", "boss@shop.example", "secret")
    client.force_login(user)
    return client


@pytest.fixture
def history(repository: SQLRepository) -> dict[str, str]:
    """Ana's order sent, Bruno's failed (a bad address), an error against Carla."""
    ids = {}
    for name, email in [("Ana Souza", "ana@example.com"), ("Bruno Lima", "not an address")]:
        ids[name.split()[0].lower()] = str(place_order(name, email).customer_id)
    call_command("regua_tick", "--now", "2026-03-02T15:01:00Z", stdout=io.StringIO())
    at = datetime(2026, 3, 2, 16, tzinfo=timezone.utc)
    repository.record_errors([ContactError("carla", at, "ValueError: bad birth_date")])
    return ids


def test_the_index_lists_reguas_pages(admin: Client) -> None:
    page = admin.get("/admin/").content.decode()
    for model in PAGES:
        assert f'href="/admin/regua/{model}/"' in page
        assert f"/admin/regua/{model}/add/" not in page


def test_each_page_is_read_only(admin: Client, history: dict[str, str]) -> None:
    for model in PAGES:
        response = admin.get(f"/admin/regua/{model}/")
        assert response.status_code == 200, model
        page = response.content.decode()
        assert f"/admin/regua/{model}/add/" not in page
        assert 'name="action"' not in page  # no bulk delete
        assert admin.get(f"/admin/regua/{model}/add/").status_code == 403


def test_deliveries_filter_and_search(admin: Client, history: dict[str, str]) -> None:
    page = admin.get("/admin/regua/delivery/").content.decode()
    for heading in ("By status", "By cadence", "By step", "By channel"):
        assert heading in page
    assert page.count("order_confirmation") >= 2

    failed = admin.get("/admin/regua/delivery/", {"status__exact": "failed"})
    assert failed.status_code == 200
    assert list(failed.context["cl"].result_list.values_list("contact_id", flat=True)) == [
        history["bruno"]
    ]

    chosen = {"cadence": "shop", "step": "order_confirmation"}
    filtered = admin.get("/admin/regua/delivery/", chosen).context["cl"].result_list
    assert sorted(d.contact_id for d in filtered) == sorted([history["ana"], history["bruno"]])
    by_channel = admin.get("/admin/regua/delivery/", {**chosen, "channel": "email"})
    # Bruno's failed delivery has no channel: every channel it had failed.
    assert [d.contact_id for d in by_channel.context["cl"].result_list] == [history["ana"]]
    assert admin.get("/admin/regua/delivery/", {"cadence": "gone"}).context["cl"].result_count == 0

    found = admin.get("/admin/regua/delivery/", {"q": history["ana"]})
    [sent] = found.context["cl"].result_list
    assert (sent.status, sent.channel) == ("sent", "email")
    assert sent.message_id.endswith("@shop.example>")


def test_the_dead_letters_page_lists_failures_only(admin: Client, history: dict[str, str]) -> None:
    response = admin.get("/admin/regua/failure/")
    [dead] = response.context["cl"].result_list
    assert (dead.contact_id, dead.status) == (history["bruno"], "failed")
    assert "not an address" not in response.content.decode()


def test_a_contact_shows_its_data_and_links_to_its_history(
    admin: Client, history: dict[str, str]
) -> None:
    ana = history["ana"]
    response = admin.get(f"/admin/regua/contact/{ana}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "ana@example.com" in page
    assert f'href="/admin/regua/delivery/?contact_id={ana}"' in page
    assert 'name="_save"' not in page
    listed = admin.get("/admin/regua/delivery/", {"contact_id": ana})
    assert [d.contact_id for d in listed.context["cl"].result_list] == [ana]
    assert admin.post(f"/admin/regua/contact/{ana}/change/", {}).status_code == 403
    assert admin.post(f"/admin/regua/contact/{ana}/delete/", {"post": "yes"}).status_code == 403
    assert Delivery.objects.filter(contact_id=ana).count() == 1


def test_errors_are_listed(admin: Client, history: dict[str, str]) -> None:
    page = admin.get("/admin/regua/error/", {"q": "carla"}).content.decode()
    assert "ValueError: bad birth_date" in page


def test_only_view_permissions_exist(repository: SQLRepository) -> None:
    codenames = set(
        Permission.objects.filter(content_type__app_label="regua").values_list(
            "codename", flat=True
        )
    )
    assert codenames == {f"view_{model}" for model in PAGES}


def test_staff_without_permission_sees_nothing(
    repository: SQLRepository, client: Client, history: dict[str, str]
) -> None:
    staff = User.objects.create_user("clerk", password="secret", is_staff=True)
    client.force_login(staff)
    assert client.get("/admin/regua/contact/").status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_contact"))
    assert client.get("/admin/regua/contact/").status_code == 200
    assert client.get("/admin/regua/delivery/").status_code == 403
