import pytest
from django.contrib.auth.models import AnonymousUser, Group, User

from core.roles import Role, has_role, role_of


def user_in(*groups, **fields):
    # No password: hashing one costs a second here and role_of never looks at it.
    user = User.objects.create(username=f"u{User.objects.count()}", **fields)
    for name in groups:
        user.groups.add(Group.objects.get_or_create(name=name)[0])
    return User.objects.get(pk=user.pk)  # a fresh object: role_of caches on the instance


@pytest.mark.django_db
@pytest.mark.parametrize(
    "groups, expected",
    [
        (("viewer",), Role.VIEWER),
        (("operator",), Role.OPERATOR),
        (("admin",), Role.ADMIN),
        (("viewer", "operator"), Role.OPERATOR),
        (("viewer", "admin", "operator"), Role.ADMIN),
        (("netops",), None),  # a group that is no role grants nothing
        ((), None),
    ],
)
def test_role_is_the_highest_role_group(groups, expected):
    assert role_of(user_in(*groups)) == expected


@pytest.mark.django_db
def test_superuser_is_admin_without_any_group():
    assert role_of(user_in(is_superuser=True)) == Role.ADMIN


@pytest.mark.django_db
@pytest.mark.parametrize("superuser", [False, True])
def test_inactive_user_has_no_role(superuser):
    assert role_of(user_in("admin", is_active=False, is_superuser=superuser)) is None


def test_anonymous_and_missing_users_have_no_role():
    assert role_of(AnonymousUser()) is None
    assert role_of(None) is None


@pytest.mark.django_db
def test_has_role_compares_against_the_needed_role():
    operator = user_in("operator")
    assert has_role(operator, Role.VIEWER)
    assert has_role(operator, Role.OPERATOR)
    assert not has_role(operator, Role.ADMIN)
    assert not has_role(user_in(), Role.VIEWER)


@pytest.mark.django_db
def test_role_is_looked_up_once_per_user_object(django_assert_num_queries):
    user = user_in("operator")
    with django_assert_num_queries(1):
        assert role_of(user) == Role.OPERATOR
        assert role_of(user) == Role.OPERATOR
