import re

from django.core.exceptions import ValidationError

# RFC 1123 label: letters, digits and inner hyphens, 1-63 characters. Lower case only,
# so "Marvin" and "marvin" cannot both exist.
DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def validate_dns_label(value):
    if not DNS_LABEL.match(value or ""):
        raise ValidationError(
            "Enter a valid DNS label: 1-63 lower-case letters, digits or hyphens, not starting or ending with a hyphen.",
            code="invalid_hostname",
        )
