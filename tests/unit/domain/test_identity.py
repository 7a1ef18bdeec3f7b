from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.identity import Role, User, check_password_policy, normalise_email, normalise_username

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["alice", "Ali_1.b@x+y-z", "مهدی", "Дмитрий", "ｆｕｌｌ"])
def test_usernames_in_any_script_are_accepted(raw: str) -> None:
    assert normalise_username(f"  {raw} ") == normalise_username(raw)


def test_fullwidth_letters_are_folded_by_nfkc() -> None:
    assert normalise_username("ｆｕｌｌ") == "full"


@pytest.mark.parametrize("raw", ["", "   ", "a" * 65, "has space", "semi;colon", "emoji😀", "new\nline"])
def test_bad_usernames_are_refused_with_the_field_named(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        normalise_username(raw)
    assert caught.value.field == "username"


def test_email_domain_is_lowercased_but_local_part_kept() -> None:
    assert normalise_email(" Bob.Smith@Example.COM ") == "Bob.Smith@example.com"
    assert normalise_email("") is None
    with pytest.raises(ValidationError):
        normalise_email("not-an-email")


@pytest.mark.parametrize("password", ["short", "x" * 257])
def test_password_policy_bounds(password: str) -> None:
    with pytest.raises(ValidationError):
        check_password_policy(password)


def test_roles_are_ordered_by_privilege() -> None:
    assert Role.ADMIN.at_least(Role.OPERATOR) and Role.OPERATOR.at_least(Role.RESELLER)
    assert not Role.USER.at_least(Role.RESELLER)
    with pytest.raises(ValidationError):
        Role.parse("root")


def test_ban_and_unban_are_idempotent() -> None:
    user = User.register(username="bob", password_hash="h", joined_at=T0)
    user.ban("fraud")
    user.ban("fraud again")
    assert not user.is_active and user.ban_reason == "fraud again"
    user.unban()
    assert user.is_active and user.ban_reason == ""


def test_telegram_id_must_be_numeric() -> None:
    with pytest.raises(ValidationError) as caught:
        User.register(username="bob", password_hash="h", joined_at=T0, telegram_id="abc")
    assert caught.value.field == "telegram_id"
