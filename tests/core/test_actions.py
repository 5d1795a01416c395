"""core.actions: an action refuses a user below its role before it does anything, whether
the user is passed by keyword or in its place; SYSTEM is the product acting on its own."""

import pytest

from core.actions import SYSTEM, ActionDenied, action
from core.roles import Role

calls = []


@action(Role.OPERATOR, "testing an action")
def act(thing, user=None, note=""):
    calls.append((thing, note))
    return thing


@pytest.fixture(autouse=True)
def clear():
    calls.clear()


@pytest.mark.parametrize("identity, allowed", [("viewer", False), ("nobody", False), ("operator", True),
                                               ("admin_user", True)])
def test_the_role_decides_by_keyword_and_by_position(request, identity, allowed):
    user = request.getfixturevalue(identity)
    for call in (lambda: act("x", user=user), lambda: act("x", user)):
        if allowed:
            assert call() == "x"
        else:
            with pytest.raises(ActionDenied, match="Testing an action needs the operator role"):
                call()
    assert len(calls) == (2 if allowed else 0)


def test_no_user_is_nobody_and_system_is_the_product(db):
    with pytest.raises(ActionDenied):
        act("x")
    assert act("x", user=SYSTEM, note="beat") == "x" and calls == [("x", "beat")]
    assert act.role == Role.OPERATOR and act.allowed(SYSTEM) and not act.allowed(None)


def test_an_action_must_take_the_user():
    with pytest.raises(TypeError, match="takes the acting user"):
        action(Role.VIEWER)(lambda thing: thing)
