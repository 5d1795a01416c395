"""Replacing a failed non-virtual host by a spare ("an AD server breaks? Just move it to a spare").

    propose_replacement(host, evidence)    -> a Replacement: the spare chosen (the smallest spare of
                                              the same site at least as large in cores, memory and
                                              disk), every other candidate with why it was rejected,
                                              the new name, and its steps
    confirm_step(replacement, number, user) -> a person confirms the next step; it runs as a Job
    run_step(step, recorder)               -> what the Job does (inventory.tasks)

Steps: 1. mark the failed host failed (done at once when detection already did), 2. the spare
takes over (new name, the role, owner and tags, status spare → active), 3. the restore runbook
is written to the journal. 1 and 2 change the inventory, so each needs a person's
confirmation, and their name goes into the journal; 3 follows 2 in the same job.

Naming: the spare takes the next free name of the role's naming scheme, as a new host of that
role would; the failed box keeps its own name, so its serial, journal and repair history stay
with the hardware being repaired (and the service name moves in DNS, which the runbook says).
A role without a scheme (or with its pool used up) lets the spare keep its name. The operator
may choose another name when confirming.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import acting_as
from core.jobs import JobCancelled, start

from ..models import Host, HostStatus, JournalEntry, Replacement, ReplacementStep
from ..validators import validate_dns_label
from . import add_journal_entry, change_status, free_names, runbooks

JOB_KIND = "inventory.replacement_step"
Step = ReplacementStep
UNHEALTHY = ("suspect", "failed")


class NotReplaceable(ValueError):
    """The host is not one a spare replaces (a hypervisor: its VMs are restarted elsewhere)."""


class StepRefused(ValidationError):
    """A step that cannot be confirmed now (a 400 in the API, a form error in the console)."""


# --- choosing a spare -------------------------------------------------------------------------


def size_of(host):
    return {"cpu_cores": host.cpu_cores, "memory_mib": host.memory_mib, "disk_gb": host.total_disk_gb}


def rejection_reasons(failed, spare, *, is_hypervisor=False, promised_to=None):
    """Why `spare` cannot take over from `failed` ([] when it can)."""
    reasons = []
    if spare.site_id != failed.site_id:
        reasons.append(f"at {spare.site.name}, not at {failed.site.name}")
    if spare.cpu_cores < failed.cpu_cores:
        reasons.append(f"{spare.cpu_cores} CPU cores < {failed.cpu_cores}")
    if spare.memory_mib < failed.memory_mib:
        reasons.append(f"{spare.memory_gib:g} GiB memory < {failed.memory_gib:g} GiB")
    if spare.total_disk_gb < failed.total_disk_gb:
        reasons.append(f"{spare.total_disk_gb} GB disk < {failed.total_disk_gb} GB")
    if is_hypervisor:
        reasons.append("a spare hypervisor, kept for restarting VMs of a failed hypervisor")
    state = getattr(getattr(spare, "health", None), "state", "")
    if state in UNHEALTHY:
        reasons.append(f"its health checks say {state}")
    if promised_to:
        reasons.append(f"already promised to replace {promised_to}")
    return reasons


def _spares(failed):
    return list(
        Host.objects.filter(status=HostStatus.SPARE).exclude(pk=failed.pk).select_related("site", "rack", "health")
        .order_by("hostname")
    )


def evaluate_candidates(failed):
    """Every spare (of any site: the others are listed as rejected, so an operator sees
    what exists), as dicts: hostname, size, fits, reasons, chosen. The chosen one is the
    smallest that fits (larger spares stay for larger failures), same rack first on a tie.
    Three queries whatever the number of spares."""
    spares = _spares(failed)
    ids = [spare.pk for spare in spares]
    hypervisors = set(Host.objects.filter(pk__in=ids, hypervisor__isnull=False).values_list("pk", flat=True))
    promised = dict(
        Replacement.objects.filter(state__in=Replacement.OPEN_STATES, spare_id__in=ids)
        .exclude(failed_host=failed).values_list("spare_id", "failed_host__hostname")
    )
    rows = []
    for spare in spares:
        reasons = rejection_reasons(failed, spare, is_hypervisor=spare.pk in hypervisors,
                                    promised_to=promised.get(spare.pk))
        rows.append({"host_id": spare.pk, "hostname": spare.hostname, "site": spare.site.name,
                     "rack": spare.rack.name if spare.rack_id else "", **size_of(spare),
                     "fits": not reasons, "reasons": reasons, "chosen": False})
    fitting = [row for row in rows if row["fits"]]
    if fitting:
        rack = failed.rack.name if failed.rack_id else None
        best = min(fitting, key=lambda r: (r["cpu_cores"], r["memory_mib"], r["disk_gb"], r["rack"] != rack,
                                           r["hostname"]))
        best["chosen"] = True
    return rows


def _reserved_names(exclude=None):
    """Names promised to spares by other open replacements."""
    return set(Replacement.objects.filter(state__in=Replacement.OPEN_STATES).exclude(pk=exclude)
               .exclude(new_hostname="").values_list("new_hostname", flat=True))


def choose_name(failed, spare, replacement_id=None):
    """(name, why) for the spare taking over from `failed`; see the module docstring."""
    role = failed.role
    if spare is None:
        return "", ""
    if role is not None and role.naming_scheme_id:
        reserved = _reserved_names(exclude=replacement_id)
        free = [name for name in free_names(role) if name not in reserved]
        if free:
            return free[0], (f"next free name of the {role.name} naming scheme '{role.naming_scheme.name}'; "
                             f"{failed.hostname} keeps its name, with its serial and repair history")
        if role.strict_naming:
            return "", (f"the {role.name} naming scheme '{role.naming_scheme.name}' has no free name left and the "
                        "role names hosts strictly: add names to the pool, or choose one when confirming")
        return spare.hostname, (f"the '{role.naming_scheme.name}' pool is used up, so {spare.hostname} keeps its "
                                "name")
    return spare.hostname, f"{spare.hostname} keeps its name: {failed.role or 'the failed host'} has no naming scheme"


def _plan(replacement):
    """Choose the spare and the name (again): fills candidates, spare, new_hostname, naming_note."""
    failed = replacement.failed_host
    rows = evaluate_candidates(failed)
    chosen = next((row for row in rows if row["chosen"]), None)
    spare = Host.objects.filter(pk=chosen["host_id"]).first() if chosen else None
    replacement.candidates = rows
    replacement.spare = spare
    replacement.new_hostname, replacement.naming_note = choose_name(failed, spare, replacement.pk)
    return replacement


def plan_summary(replacement):
    if replacement.spare_id is None:
        rejected = "; ".join(f"{r['hostname']}: {', '.join(r['reasons'])}" for r in replacement.candidates)
        return f"No spare fits {replacement.failed_host.hostname}" + (f" ({rejected})" if rejected else
                                                                     " (there are no spares)")
    target = replacement.new_hostname or "a name to choose"
    return f"{replacement.spare.hostname} takes over as {target} ({replacement.naming_note})"


# --- proposing ------------------------------------------------------------------------------


def is_virtual_host(host):
    """Hypervisors are recovered by fencing and HA restart (health), not replaced here."""
    return Host.objects.filter(pk=host.pk, hypervisor__isnull=False).exists()


def open_replacement(host):
    return Replacement.objects.filter(failed_host=host, state__in=Replacement.OPEN_STATES).first()


def propose_replacement(host, evidence=None, user=None):
    """Propose moving the failed `host`'s role to a spare; nothing in the inventory changes
    until a person confirms each step. Idempotent: an open replacement of the host is
    returned as it is. Called by health's on_host_failed for a host that is no hypervisor;
    a host without a role (a spare that died) has no service to move, so detection gets
    None for it (a person may still propose one)."""
    host = Host.objects.select_related("site", "rack", "role__naming_scheme").get(pk=host.pk)
    if is_virtual_host(host):
        raise NotReplaceable(f"{host.hostname} is a hypervisor: its VMs are restarted elsewhere instead")
    if host.status == HostStatus.DECOMMISSIONED:
        raise StepRefused({"failed_host": f"{host.hostname} is decommissioned: there is nothing to replace."})
    existing = open_replacement(host)
    if existing is not None:
        return existing
    if user is None and host.role_id is None:
        return None
    try:
        with transaction.atomic():
            replacement = Replacement(failed_host=host, evidence=evidence or {}, requested_by=user,
                                      automatic=user is None, role_name=host.role.name if host.role_id else "")
            _plan(replacement).save()
            _create_steps(replacement)
            who = user.get_username() if user else "failure detection"
            add_journal_entry(host, f"Replacement #{replacement.pk} proposed by {who}: {plan_summary(replacement)}. "
                                    "Nothing changes until an operator confirms each step.",
                              author=user, kind=JournalEntry.Kind.SYSTEM)
    except IntegrityError:  # proposed concurrently (two detections, a click): keep the first
        return open_replacement(host)
    return replacement


def _create_steps(replacement):
    failed = replacement.failed_host
    already = failed.status == HostStatus.FAILED
    Step.objects.bulk_create([
        Step(replacement=replacement, number=1, kind=Step.Kind.MARK_FAILED, title=f"Mark {failed.hostname} failed",
             state=Step.State.DONE if already else Step.State.PENDING,
             outcome=f"{failed.hostname} was already failed when the replacement was proposed." if already else "",
             finished_at=timezone.now() if already else None),
        Step(replacement=replacement, number=2, kind=Step.Kind.TAKE_OVER,
             title=f"A spare takes over {failed.hostname}'s role"),
        Step(replacement=replacement, number=3, kind=Step.Kind.RUNBOOK, destructive=False,
             title="Write the restore runbook in the journal"),
    ])


def replan(replacement, user=None):
    """Choose the spare and the name again (a spare was added, or the chosen one was taken)."""
    taken_over = replacement.steps.filter(kind=Step.Kind.TAKE_OVER, state=Step.State.DONE).exists()
    if replacement.state != Replacement.State.PROPOSED or taken_over:
        raise StepRefused({"replacement": "Only a proposed replacement whose spare has not taken over can be "
                                          "planned again."})
    _plan(replacement).save(update_fields=["candidates", "spare", "new_hostname", "naming_note"])
    add_journal_entry(replacement.failed_host, f"Replacement #{replacement.pk} planned again: "
                                               f"{plan_summary(replacement)}.", author=user,
                      kind=JournalEntry.Kind.SYSTEM)
    return replacement


def cancel(replacement, user):
    if replacement.state != Replacement.State.PROPOSED:
        raise StepRefused({"replacement": f"Replacement #{replacement.pk} is {replacement.get_state_display()}; "
                                          "only a proposed one can be cancelled."})
    replacement.state, replacement.finished_at = Replacement.State.CANCELLED, timezone.now()
    replacement.save(update_fields=["state", "finished_at"])
    add_journal_entry(replacement.failed_host, f"Replacement #{replacement.pk} cancelled by {user.get_username()}.",
                      author=user, kind=JournalEntry.Kind.SYSTEM)


# --- confirming and running steps ---------------------------------------------------------


def next_step(replacement):
    """The first step not done yet (None when all are)."""
    return replacement.steps.exclude(state=Step.State.DONE).order_by("number").first()


def fitting_spares(replacement):
    """The spares that may take over now, as Host rows (for the confirmation form)."""
    ids = [row["host_id"] for row in evaluate_candidates(replacement.failed_host) if row["fits"]]
    return Host.objects.filter(pk__in=ids).order_by("hostname")


def validate_new_name(name, replacement, spare):
    """The name the spare may take: a free DNS label, from the pool if the role is strict."""
    try:
        validate_dns_label(name)
    except ValidationError as exc:
        raise StepRefused({"hostname": exc.messages}) from exc
    taken = Host.objects.filter(hostname=name).exclude(pk=spare.pk).first()
    if taken is not None:
        why = (" (keep the failed host's record under its name; give the spare a new one)"
               if taken.pk == replacement.failed_host_id else "")
        raise StepRefused({"hostname": f"{name} is already the name of a host{why}."})
    if name in _reserved_names(exclude=replacement.pk):
        raise StepRefused({"hostname": f"{name} is promised to another open replacement."})
    role = replacement.failed_host.role
    if role is not None and role.strict_naming and role.naming_scheme_id and name not in role.naming_scheme.names:
        raise StepRefused({"hostname": f"Role {role.name} names hosts strictly from the pool "
                                       f"'{role.naming_scheme.name}'; {name!r} is not in it."})


def confirm_step(replacement, number, user, spare=None, hostname=None):
    """A person confirms step `number` (it must be the next one); start its Job. For the
    take-over step the person may choose another fitting spare and another name.
    Raises StepRefused (field errors) when it cannot run now."""
    with transaction.atomic():
        replacement = Replacement.objects.select_for_update(of=("self",)).select_related(
            "failed_host__role__naming_scheme", "spare").get(pk=replacement.pk)
        if not replacement.is_open:
            raise StepRefused({"step": f"Replacement #{replacement.pk} is {replacement.get_state_display().lower()}."})
        step = next_step(replacement)
        if step is None or step.number != number:
            expected = f"step {step.number} ({step.title})" if step else "nothing (all steps are done)"
            raise StepRefused({"step": f"Step {number} cannot run now: the next one is {expected}."})
        if step.state == Step.State.RUNNING and step.job is not None and not step.job.is_finished:
            raise StepRefused({"step": f"Step {number} is already running (job #{step.job_id})."})
        # (a job cancelled before it started leaves its step "running": it may be confirmed again)
        if step.kind == Step.Kind.TAKE_OVER:
            _confirm_take_over(replacement, spare, hostname)
        now = timezone.now()
        step.state, step.confirmed_by, step.confirmed_at, step.outcome = Step.State.RUNNING, user, now, ""
        job = start(JOB_KIND, f"Replacement of {replacement.failed_host.hostname}: {step.title}"[:200],
                         user=user, params={"replacement_id": replacement.pk, "step": step.number},
                         target=replacement.failed_host)
        step.job = job
        step.save(update_fields=["state", "confirmed_by", "confirmed_at", "outcome", "job"])
        replacement.state = Replacement.State.RUNNING
        replacement.save(update_fields=["state"])
        add_journal_entry(replacement.failed_host,
                          f"Replacement #{replacement.pk}, step {step.number} ({step.title}) confirmed by "
                          f"{_name(user)} at {now:%Y-%m-%d %H:%M:%S}; job #{job.pk}.",
                          author=user, kind=JournalEntry.Kind.SYSTEM)
    return job


def _confirm_take_over(replacement, spare, hostname):
    spare = spare if spare is not None else replacement.spare
    if spare is None:
        raise StepRefused({"spare": plan_summary(replacement) + ". Add a spare, then plan again."})
    row = next((r for r in evaluate_candidates(replacement.failed_host) if r["host_id"] == spare.pk), None)
    if row is None or not row["fits"]:
        why = ", ".join(row["reasons"]) if row else f"{spare.hostname} is not a spare"
        raise StepRefused({"spare": f"{spare.hostname} cannot take over: {why}."})
    if spare.pk != replacement.spare_id:
        replacement.spare = spare
        replacement.new_hostname, replacement.naming_note = choose_name(replacement.failed_host, spare,
                                                                         replacement.pk)
    name = (hostname or "").strip() or replacement.new_hostname
    if not name:
        raise StepRefused({"hostname": replacement.naming_note or "Choose the spare's new name."})
    validate_new_name(name, replacement, spare)
    if name != replacement.new_hostname:
        replacement.new_hostname, replacement.naming_note = name, "chosen by the operator who confirmed"
    replacement.save(update_fields=["spare", "new_hostname", "naming_note"])


def _name(user):
    if user is None:
        return "the system"
    return user.get_full_name() or user.get_username()


def run_step(replacement_id, number, recorder):
    """The Job's work: run the confirmed step (and the runbook after the take-over)."""
    replacement = Replacement.objects.select_related("failed_host__site", "failed_host__role", "spare").get(
        pk=replacement_id)
    step = replacement.steps.select_related("confirmed_by").get(number=number)
    if step.state == Step.State.DONE:  # a redelivered task
        recorder.log(f"Step {number} was already done")
        return {"step": number, "state": step.state}
    try:
        if step.kind == Step.Kind.MARK_FAILED:
            outcome = _mark_failed(replacement, step, recorder)
        else:
            outcome = _take_over(replacement, step, recorder)
    except Exception as exc:
        why = (" ".join(exc.messages) if isinstance(exc, ValidationError) else
               "cancelled by an operator" if isinstance(exc, JobCancelled) else str(exc))
        _finish_step(step, Step.State.FAILED, why)
        Replacement.objects.filter(pk=replacement.pk).update(state=Replacement.State.PROPOSED)
        add_journal_entry(replacement.failed_host, f"Replacement #{replacement.pk}, step {number} FAILED: {why} "
                                                   "Confirm it again once the cause is fixed.",
                          kind=JournalEntry.Kind.INCIDENT)
        if isinstance(exc, JobCancelled):
            raise  # the job ends cancelled; the step, rolled back, may be confirmed again
        raise RuntimeError(why) from exc
    _finish_step(step, Step.State.DONE, outcome)
    state = Replacement.State.DONE if next_step(replacement) is None else Replacement.State.PROPOSED
    Replacement.objects.filter(pk=replacement.pk).update(
        state=state, finished_at=timezone.now() if state == Replacement.State.DONE else None)
    recorder.log(outcome)
    return {"replacement": replacement.pk, "step": number, "outcome": outcome, "replacement_state": state}


def _finish_step(step, state, outcome):
    step.state, step.outcome, step.finished_at = state, str(outcome)[:2000], timezone.now()
    step.save(update_fields=["state", "outcome", "finished_at"])


def _mark_failed(replacement, step, recorder):
    failed, user = replacement.failed_host, step.confirmed_by
    recorder.progress(20, f"Marking {failed.hostname} failed")
    if failed.status == HostStatus.FAILED:
        return f"{failed.hostname} was already failed."
    change_status(failed, HostStatus.FAILED, user=user,
                  reason=f"replacement #{replacement.pk}, confirmed by {_name(user)}")
    recorder.progress(90, f"{failed.hostname} is failed")
    return f"{failed.hostname} marked failed (confirmed by {_name(user)})."


def _take_over(replacement, step, recorder):
    failed, user = replacement.failed_host, step.confirmed_by
    with transaction.atomic():
        spare = Host.objects.select_for_update(of=("self",)).select_related("site", "health").get(
            pk=replacement.spare_id)
        recorder.progress(10, f"Checking {spare.hostname} can still take over from {failed.hostname}")
        reasons = ([f"it is {spare.get_status_display().lower()}, no longer a spare"]
                   if spare.status != HostStatus.SPARE else [])
        reasons += rejection_reasons(failed, spare, is_hypervisor=is_virtual_host(spare))
        if reasons:
            raise StepRefused({"spare": f"{spare.hostname} cannot take over: {', '.join(reasons)}. "
                                        "Plan again to choose another spare."})
        was_named = spare.hostname
        recorder.log(f"{was_named} becomes {replacement.new_hostname}: role {failed.role or '—'}, "
                     f"owner {failed.owner or '—'}, tags of {failed.hostname}")
        spare.hostname, spare.role, spare.owner = replacement.new_hostname, failed.role, failed.owner or spare.owner
        spare.full_clean()  # the name (free, valid, from a strict pool) and everything else, as the console would
        with acting_as(user):
            spare.save()
            spare.tags.add(*failed.tags.all())
        recorder.progress(50, f"{spare.hostname} carries the role {failed.role or '—'}")
        spare = change_status(spare, HostStatus.ACTIVE, user=user,
                              reason=f"took over from {failed.hostname} (replacement #{replacement.pk})")
        add_journal_entry(spare, f"Took over from {failed.hostname} as {spare.hostname} (was {was_named}): role "
                                 f"{failed.role or '—'}. Replacement #{replacement.pk}, confirmed by {_name(user)}.",
                          author=user, kind=JournalEntry.Kind.SYSTEM)
        add_journal_entry(failed, f"Replaced by {spare.hostname} (was {was_named}), replacement #{replacement.pk}; "
                                  f"the restore runbook is in {spare.hostname}'s journal.",
                          author=user, kind=JournalEntry.Kind.SYSTEM)
        # In the same transaction: a take-over without its runbook is never left behind.
        recorder.progress(70, "Writing the restore runbook")
        _write_runbook(replacement, failed, spare, was_named, user, recorder)
    recorder.progress(95, "Runbook written")
    return (f"{was_named} took over from {failed.hostname} as {spare.hostname} (role {failed.role or '—'}, "
            f"confirmed by {_name(user)}); runbook written.")


def _write_runbook(replacement, failed, new_host, was_named, user, recorder):
    step = replacement.steps.get(kind=Step.Kind.RUNBOOK)
    text = runbooks.render(failed, new_host, was_named, _name(user), replacement.pk)
    add_journal_entry(new_host, text, author=user, kind=JournalEntry.Kind.REPAIR)
    add_journal_entry(failed, text, author=user, kind=JournalEntry.Kind.REPAIR)
    Replacement.objects.filter(pk=replacement.pk).update(runbook=text)
    _finish_step(step, Step.State.DONE, f"Runbook written to the journals of {new_host.hostname} and "
                                        f"{failed.hostname}.")
    recorder.log(f"Runbook ({runbooks.role_kind(failed.role)}) written to the journals of {new_host.hostname} "
                 f"and {failed.hostname}")
