"""Health badges and the host health panel, for any console template:

    {% load health %}{% health_badge host %}      a host's health state (with flapping/failing checks)
"""

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

STATE_COLOURS = {"healthy": "success", "suspect": "warning", "failed": "danger", "unknown": "secondary"}
STATE_ICONS = {"healthy": "heart-pulse", "suspect": "question-octagon", "failed": "heartbreak", "unknown": "dash-circle"}


@register.filter
def health_colour(state):
    return STATE_COLOURS.get(state, "secondary")


def health_of(obj):
    """The HostHealth of a Host (None when never checked), or obj itself when it is one."""
    if hasattr(obj, "failing_checks"):
        return obj
    try:
        return obj.health
    except ObjectDoesNotExist:
        return None


@register.simple_tag
def health_badge(obj):
    """The health state as a badge; a healthy host with failing checks says how many."""
    health = health_of(obj)
    if health is None:
        return mark_safe('<span class="badge text-bg-light border health-badge" data-health="unchecked" '
                         'title="Not checked yet">not checked</span>')
    extra = ""
    if health.flapping:
        extra = mark_safe(' <span class="badge text-bg-warning health-flapping" title="Changes state too often; alerts held back">flapping</span>')
    elif health.state == "healthy" and health.failing_checks:
        count = len(health.failing_checks)
        extra = format_html(' <span class="badge text-bg-warning-subtle text-warning-emphasis" title="{}">{} failing</span>',
                            ", ".join(health.failing_checks), count)
    return format_html('<span class="badge text-bg-{} health-badge" data-health="{}" title="since {}">'
                       '<i class="bi bi-{}"></i> {}</span>{}',
                       health_colour(health.state), health.state, f"{health.since:%Y-%m-%d %H:%M:%S}",
                       STATE_ICONS.get(health.state, "dash-circle"), health.get_state_display(), extra)
