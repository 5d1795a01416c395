"""The journal is append-only, so it can be trusted as evidence: entries are created and
read; no save, update or delete of an existing entry gets through the model, its
queryset, the API or the console; the demo's history is written, not rewritten."""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from inventory.models import JournalEntry, JournalIsAppendOnly
from inventory.services import add_journal_entry, change_status

API = "/api/inventory/journal/"


@pytest.fixture
def status_entry(host):
    change_status(host, "maintenance", reason="fence test")
    return host.journal.get(kind=JournalEntry.Kind.STATUS)


@pytest.fixture
def other_host(site):
    from inventory.models import Host

    return Host.objects.create(hostname="saturn", site=site)


def test_an_existing_entry_cannot_be_saved_again(status_entry, other_host):
    status_entry.text = "Nothing happened"
    status_entry.host = other_host
    with pytest.raises(JournalIsAppendOnly):
        status_entry.save()
    stored = JournalEntry.objects.get(pk=status_entry.pk)
    assert stored.text.startswith("Status Active → Maintenance") and stored.host_id != other_host.pk


def test_a_new_object_with_an_existing_id_does_not_overwrite_it(status_entry, other_host):
    forged = JournalEntry(pk=status_entry.pk, host=other_host, kind="status", text="forged")
    with pytest.raises(IntegrityError), transaction.atomic():
        forged.save()
    assert JournalEntry.objects.get(pk=status_entry.pk).text != "forged"


@pytest.mark.parametrize("write", [
    lambda qs, host: qs.update(text="forged"),
    lambda qs, host: qs.update(host=host),
    lambda qs, host: qs.delete(),
    lambda qs, host: JournalEntry.objects.bulk_update([qs.get()], ["text"]),
    lambda qs, host: qs.get().delete(),
    lambda qs, host: host.journal.all().delete(),
])
def test_bulk_and_single_writes_are_refused(status_entry, other_host, write):
    with pytest.raises(JournalIsAppendOnly), transaction.atomic():  # bulk_update has no savepoint of its own
        write(JournalEntry.objects.filter(pk=status_entry.pk), other_host)
    stored = JournalEntry.objects.get(pk=status_entry.pk)
    assert (stored.text, stored.host_id) == (status_entry.text, status_entry.host_id)


def test_operators_add_entries_through_the_api(operator_api, operator, host):
    response = operator_api.post(API, {"host": host.pk, "kind": "incident", "text": "PSU smells"}, format="json")
    assert response.status_code == 201
    assert host.journal.get().author == operator


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_the_api_never_changes_a_system_entry(operator_api, admin_api, status_entry, other_host, method):
    for client in (operator_api, admin_api):
        response = getattr(client, method)(f"{API}{status_entry.pk}/", {"text": "forged", "host": other_host.pk},
                                           format="json")
        assert response.status_code == 405
    stored = JournalEntry.objects.get(pk=status_entry.pk)
    assert (stored.text, stored.host_id) == (status_entry.text, status_entry.host_id)


def test_the_schema_offers_no_way_to_change_an_entry(viewer_api):
    paths = viewer_api.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert set(paths["/api/inventory/journal/{id}/"]) == {"get"}
    assert "post" in paths["/api/inventory/journal/"]


def test_the_console_adds_entries_and_offers_no_edit_or_delete(operator, host, status_entry):
    client = Client()
    client.force_login(operator)
    answer = client.post(reverse("inventory:host_journal", args=[host.pk]), {"kind": "note", "text": "Checked cabling"})
    assert answer.status_code in (200, 302)
    assert host.journal.filter(text="Checked cabling").exists()
    page = client.get(host.get_absolute_url()).content.decode()
    journal = page[page.index('id="journal"'):]
    journal = journal[:journal.index("</section>")]
    assert "Checked cabling" in journal and "edit" not in journal.lower() and "delete" not in journal.lower()


def test_an_entry_can_say_when_it_happened(host):
    from datetime import timedelta

    from django.utils import timezone

    earlier = timezone.now() - timedelta(days=3)
    assert add_journal_entry(host, "Racked", at=earlier).created_at == earlier
    assert add_journal_entry(host, "Cabled").created_at > earlier


def test_a_host_deleted_by_an_admin_takes_its_journal_with_it(host, status_entry):
    host.delete()
    assert not JournalEntry.objects.filter(pk=status_entry.pk).exists()
