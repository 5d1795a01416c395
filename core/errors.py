"""What a failure says to people: a sentence, never a traceback or a printed dict.

    sentence(exc)   # "Disk path: there is no disk image at /images/x.raw."

A django ValidationError (often raised with {field: message}) reads as its messages,
each after the field it is about. Our own exceptions already carry a sentence and keep
it. A programming error (a KeyError, a TypeError...) says nothing useful to an operator:
it becomes a sentence that points at the server log, where logger.exception put the trace.
"""

from django.core.exceptions import ValidationError

# Exceptions that mean a bug here, not something the operator can act on.
BUGS = (AttributeError, AssertionError, IndexError, KeyError, LookupError, NameError, NotImplementedError,
        TypeError, ZeroDivisionError)
UNSPECIFIED_FIELDS = ("__all__", "non_field_errors")


def sentence(exc):
    """The message of `exc` for a user (the API, the run page, the job page)."""
    if isinstance(exc, ValidationError):
        return validation_sentence(exc)
    if isinstance(exc, BUGS) and not getattr(exc, "user_message", False):
        return (f"An internal error ({exc.__class__.__name__}) stopped this; the server log has the details. "
                f"Report it if it happens again.")
    text = str(exc).strip()
    return text or f"It failed ({exc.__class__.__name__}) without saying why; the server log has the details."


def validation_sentence(error):
    """The messages of a ValidationError as sentences: "Field: message." per field."""
    if hasattr(error, "error_dict"):
        parts = []
        for field, errors in error.error_dict.items():
            messages = " ".join(_finished(message) for item in errors for message in item.messages)
            parts.append(messages if field in UNSPECIFIED_FIELDS else f"{_label(field)}: {messages}")
        return " ".join(parts)
    return " ".join(_finished(message) for message in error.messages)


def _label(field):
    return field.replace("_", " ").capitalize()


def _finished(message):
    message = str(message).strip()
    return message if message.endswith((".", "!", "?", ":")) else f"{message}."
