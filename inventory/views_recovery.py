"""Console pages of replacements: a failed host's role moved to a spare, step by step,
each destructive step confirmed by a person. The views only call
inventory.services.recovery."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from core.mixins import OperatorRequiredMixin, ViewerRequiredMixin

from .forms_recovery import ConfirmStepForm
from .models import Host, HostStatus, Replacement
from .services import recovery

RECENT_CLOSED = 20


def replacement_queryset():
    return Replacement.objects.select_related("failed_host__site", "failed_host__role", "spare", "requested_by")


class ReplacementListView(ViewerRequiredMixin, TemplateView):
    """Open replacements first, then the most recent closed ones; a fixed number of queries."""

    template_name = "inventory/replacement_list.html"

    def get_context_data(self, **kwargs):
        open_replacements = list(replacement_queryset().filter(state__in=Replacement.OPEN_STATES)
                                 .prefetch_related("steps"))
        for replacement in open_replacements:
            replacement.pending_step = next((s for s in replacement.steps.all() if s.state != s.State.DONE), None)
        return super().get_context_data(
            open_replacements=open_replacements,
            closed_replacements=list(replacement_queryset().exclude(state__in=Replacement.OPEN_STATES)
                                     [:RECENT_CLOSED]),
            **kwargs,
        )


def detail_context(replacement, form=None):
    steps = list(replacement.steps.select_related("confirmed_by", "job"))
    current = next((step for step in steps if step.state != step.State.DONE), None)
    if form is None and current is not None and current.destructive and replacement.is_open:
        form = ConfirmStepForm(replacement=replacement, step=current)
    return {"replacement": replacement, "steps": steps, "current": current, "form": form,
            "running": any(step.state == step.State.RUNNING for step in steps),
            "summary": recovery.plan_summary(replacement)}


class ReplacementDetailView(ViewerRequiredMixin, View):
    def get(self, request, pk):
        replacement = get_object_or_404(replacement_queryset(), pk=pk)
        return render(request, "inventory/replacement_detail.html", detail_context(replacement))


class ReplacementConfirmView(OperatorRequiredMixin, View):
    """Confirm the next step (a form on the detail page); it runs as a job."""

    def post(self, request, pk, number):
        replacement = get_object_or_404(replacement_queryset(), pk=pk)
        step = replacement.steps.filter(number=number).first()
        if step is None:
            messages.error(request, f"Replacement #{replacement.pk} has no step {number}.")
            return redirect(replacement)
        form = ConfirmStepForm(request.POST, replacement=replacement, step=step)
        if form.is_valid():
            try:
                recovery.confirm_step(replacement, number, request.user, **form.choices())
            except recovery.StepRefused as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.info(request, f"Step {number} confirmed: {step.title}.")
                return redirect(replacement)
        context = detail_context(replacement, form)
        return render(request, "inventory/replacement_detail.html", context, status=400)


class ReplacementActionView(OperatorRequiredMixin, View):
    """Plan again or cancel."""

    action = None

    def post(self, request, pk):
        replacement = get_object_or_404(replacement_queryset(), pk=pk)
        try:
            if self.action == "replan":
                recovery.replan(replacement, request.user)
                messages.info(request, recovery.plan_summary(replacement) + ".")
            else:
                recovery.cancel(replacement, request.user)
                messages.info(request, f"Replacement #{replacement.pk} cancelled.")
        except recovery.StepRefused as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(replacement)


class ReplacementProposeView(OperatorRequiredMixin, View):
    """Propose replacing a host by a spare (from its page)."""

    def post(self, request, pk):
        host = get_object_or_404(Host, pk=pk)
        try:
            replacement = recovery.propose_replacement(host, {"proposed_from": "console"}, user=request.user)
        except (recovery.NotReplaceable, recovery.StepRefused) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
            return redirect(host)
        return redirect(replacement)


class HostReplacementCardView(ViewerRequiredMixin, View):
    """HTMX: the replacement card of a host page (loaded after the page)."""

    def get(self, request, pk):
        host = get_object_or_404(Host, pk=pk)
        replacements = list(replacement_queryset().filter(failed_host=host)[:5])
        context = {
            "host": host,
            "open_replacement": next((r for r in replacements if r.is_open), None),
            "past_replacements": [r for r in replacements if not r.is_open],
            "replaced": replacement_queryset().filter(spare=host, state=Replacement.State.DONE).first(),
            "replaceable": host.status in (HostStatus.ACTIVE, HostStatus.FAILED) and not recovery.is_virtual_host(host),
        }
        return render(request, "inventory/_replacement_card.html", context)
