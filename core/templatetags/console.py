"""Presentation helpers shared by every console template: badges, Bootstrap form
fields, progress bars."""

import json

from django import forms, template
from django.apps import apps
from django.utils.html import format_html

from core import roles

register = template.Library()

# One colour per host status, everywhere (badges, dashboard bars, rack elevations).
STATUS_COLOURS = {
    "planned": "secondary",
    "active": "success",
    "spare": "info",
    "maintenance": "warning",
    "failed": "danger",
    "migrated": "primary",
    "decommissioned": "dark",
}
JOB_STATE_COLOURS = {
    "pending": "secondary",
    "running": "primary",
    "succeeded": "success",
    "failed": "danger",
    "cancelled": "warning",
}
ACTION_COLOURS = {0: "success", 1: "primary", 2: "danger", 3: "secondary"}


@register.filter
def status_colour(status):
    return STATUS_COLOURS.get(status, "secondary")


@register.filter
def job_colour(state):
    return JOB_STATE_COLOURS.get(state, "secondary")


@register.filter
def action_colour(action):
    return ACTION_COLOURS.get(action, "secondary")


@register.simple_tag
def status_badge(host):
    return format_html(
        '<span class="badge status-badge text-bg-{}" data-status="{}">{}</span>',
        status_colour(host.status),
        host.status,
        host.get_status_display(),
    )


@register.simple_tag
def job_badge(job):
    return format_html(
        '<span class="badge text-bg-{}" data-state="{}">{}</span>',
        job_colour(job.state),
        job.state,
        job.get_state_display(),
    )


@register.simple_tag
def tag_badge(tag):
    return format_html('<span class="badge tag-badge" style="--tag-colour: {}">{}</span>', tag.color, tag.name)


# --- form fields --------------------------------------------------------------


def _widget_class(widget):
    if isinstance(widget, (forms.CheckboxInput, forms.CheckboxSelectMultiple, forms.RadioSelect)):
        return "form-check-input"
    if isinstance(widget, (forms.Select, forms.SelectMultiple)):
        return "form-select"
    return "form-control"


@register.inclusion_tag("core/_field.html")
def form_field(field, label=True, small=False):
    """Render a bound field the Bootstrap way: label, widget, help text, and on error
    the widget gets "is-invalid" and the messages an "invalid-feedback" block."""
    widget = field.field.widget
    classes = [_widget_class(widget)]
    # A form may ask for more classes (e.g. monospace) with widget.extra_classes.
    classes += getattr(widget, "extra_classes", "").split()
    if small and classes[0] != "form-check-input":
        classes.append("form-select-sm" if classes[0] == "form-select" else "form-control-sm")
    if field.errors:
        classes.append("is-invalid")
    # Set on the form's own copy of the widget so sub-widgets (checkbox lists) get it too.
    widget.attrs["class"] = " ".join(classes)
    return {
        "field": field,
        "show_label": label,
        "is_checkbox": isinstance(widget, forms.CheckboxInput),
        "is_choice_list": isinstance(widget, (forms.CheckboxSelectMultiple, forms.RadioSelect)),
    }


@register.inclusion_tag("core/_form_errors.html")
def form_errors(form):
    return {"errors": form.non_field_errors()}


@register.inclusion_tag("core/_progress.html")
def job_progress(job):
    return {"job": job}


@register.filter
def pretty_json(value):
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@register.simple_tag(takes_context=True)
def nav_active(context, *prefixes):
    """"active" when the current page's URL name starts with one of the prefixes."""
    match = getattr(context.get("request"), "resolver_match", None)
    view_name = match.view_name if match else ""
    return "active" if any(view_name.startswith(prefix) for prefix in prefixes) else ""


@register.simple_tag(takes_context=True)
def may(context, operation, model):
    """`{% may "delete" host as can_delete %}`: whether the page's user may change or delete
    objects of a model (an object, or "app_label.Model"), by the role the model declares."""
    if isinstance(model, str):
        model = apps.get_model(model)
    elif not isinstance(model, type):
        model = type(model)
    return roles.may(getattr(context.get("request"), "user", None), model, operation)
