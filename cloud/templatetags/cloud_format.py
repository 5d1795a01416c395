"""Money, sizes and sizing actions as the cloud pages show them."""

from decimal import Decimal

from django import template
from django.utils.html import format_html

register = template.Library()

ACTION_BADGES = {
    "rehost-ec2": ("primary", "EC2"),
    "replatform-rds": ("info", "RDS"),
    "retire": ("warning", "retire"),
    "no-fit": ("danger", "no fit"),
}


@register.filter
def money(value):
    """1234.5 -> "1,234.50"; None -> "—"."""
    if value is None or value == "":
        return "—"
    return f"{Decimal(value):,.2f}"


@register.filter
def signed_money(value):
    if value is None:
        return "—"
    value = Decimal(value)
    return f"+{value:,.2f}" if value > 0 else f"−{-value:,.2f}" if value < 0 else "0.00"


@register.filter
def difference_class(value):
    """Green when AWS is cheaper, red when dearer."""
    if value is None:
        return "text-body-secondary"
    return "text-success" if value < 0 else "text-danger" if value > 0 else ""


@register.filter
def gib(mib):
    value = Decimal(mib or 0) / 1024
    return f"{value:.2f}".rstrip("0").rstrip(".")


@register.filter
def plain_number(value):
    """Decimal("8.00") -> "8"; Decimal("1.25") -> "1.25"."""
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.simple_tag
def action_badge(action):
    colour, label = ACTION_BADGES.get(action, ("secondary", action))
    return format_html('<span class="badge text-bg-{} action-badge" data-action="{}">{}</span>', colour, action, label)
