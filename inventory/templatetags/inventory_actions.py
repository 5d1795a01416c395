"""Buttons of inventory actions that other apps' pages show too (the hypervisor page),
each shown from its action's declared role (core.actions)."""

from django import template

from ..models import HostStatus
from ..services.repair import mark_repaired

register = template.Library()


@register.inclusion_tag("inventory/_repaired.html", takes_context=True)
def repaired_form(context, host):
    """The "Repaired" button of a failed host, for those whose role may press it."""
    request = context["request"]
    return {"host": host, "csrf_token": context.get("csrf_token"), "next": request.get_full_path(),
            "shown": host.status == HostStatus.FAILED and mark_repaired.allowed(request.user)}
