"""The job page's per-step progress bars (child jobs), live through HTMX."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.jobs import create_job
from core.models import Job

HTMX = {"HTTP_HX_REQUEST": "true"}


def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def evacuation(operator):
    parent = create_job("hypervisors.evacuate", "Evacuate rhine", user=operator)
    Job.objects.filter(pk=parent.pk).update(state="running", progress=40)
    steps = []
    for name, state, progress, message in [("luna", "succeeded", 100, "Done"),
                                           ("io", "running", 55, "30 MiB sent, 25 MiB left"),
                                           ("europa", "pending", 0, "")]:
        child = create_job("hypervisors.live_migrate", f"Migrate {name} to danube", user=operator, parent=parent)
        Job.objects.filter(pk=child.pk).update(state=state, progress=progress, message=message)
        steps.append(child)
    parent.refresh_from_db()
    return parent, steps


def test_a_job_with_steps_shows_a_progress_bar_per_step(client, viewer, evacuation):
    parent, steps = evacuation
    html = logged_in(client, viewer).get(reverse("job_detail", args=[parent.pk])).content.decode()
    assert "1 of 3 finished" in html
    items = re.findall(r'<li class="migration-item" data-job="(\d+)" data-state="(\w+)" data-progress="(\d+)"', html)
    assert items == [(str(steps[0].pk), "succeeded", "100"), (str(steps[1].pk), "running", "55"),
                     (str(steps[2].pk), "pending", "0")]
    assert "30 MiB sent, 25 MiB left" in html and "Waiting for its turn" in html
    assert f'hx-get="{reverse("job_progress", args=[parent.pk])}"' in html
    child_page = client.get(reverse("job_detail", args=[steps[1].pk])).content.decode()
    assert f'href="{reverse("job_detail", args=[parent.pk])}" id="parent-job"' in child_page
    assert 'id="job-children"' not in child_page  # a job without steps shows no empty list


def test_the_polled_status_follows_the_steps_and_stops_when_all_finished(client, viewer, evacuation):
    parent, steps = evacuation
    client = logged_in(client, viewer)
    url = reverse("job_progress", args=[parent.pk])
    Job.objects.filter(pk=steps[1].pk).update(progress=90, message="4 MiB left")
    partial = client.get(url, **HTMX).content.decode()
    assert 'data-progress="90"' in partial and "4 MiB left" in partial and "hx-trigger" in partial
    Job.objects.filter(parent=parent).update(state="succeeded", progress=100)
    Job.objects.filter(pk=parent.pk).update(state="succeeded", progress=100)
    partial = client.get(url, **HTMX).content.decode()
    assert "3 of 3 finished" in partial and "hx-trigger" not in partial


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, **HTMX).status_code == 200
    return len(queries)


def test_job_steps_cost_the_same_queries_whatever_their_number(client, viewer, evacuation, operator):
    parent, _steps = evacuation
    client = logged_in(client, viewer)
    urls = [reverse("job_detail", args=[parent.pk]), reverse("job_progress", args=[parent.pk])]
    few = [count_queries(client, url) for url in urls]
    for index in range(12):
        create_job("hypervisors.live_migrate", f"Migrate vm{index}", user=operator, parent=parent)
    assert [count_queries(client, url) for url in urls] == few
