"""AddOrder: per-type field checks and the form it becomes (the port's value object)."""

from __future__ import annotations

from datetime import date

import pytest

from vpnsmm.application.ports.smm_provider import (
    AddOrder,
    ProviderErrorKind,
    chunked,
    classify_provider_error,
)
from vpnsmm.domain.errors import ValidationError
from vpnsmm.domain.smm import ServiceType

T = ServiceType


@pytest.mark.parametrize(("service_type", "order"), [
    (T.DEFAULT, AddOrder(service="1", link="https://x", quantity=10)),
    (T.DEFAULT, AddOrder(service="1", link="https://x", quantity=10, runs=2, interval=0)),
    (T.PACKAGE, AddOrder(service="1", link="https://x")),
    (T.SEO, AddOrder(service="1", link="https://x", quantity=10, keywords="a\nb")),
    (T.CUSTOM_COMMENTS, AddOrder(service="1", link="https://x", comments="a\r\nb")),
    (T.CUSTOM_COMMENTS_PACKAGE, AddOrder(service="1", link="https://x", comments=["a"])),
    (T.MENTIONS, AddOrder(service="1", link="https://x", quantity=10, usernames=["a"])),
    (T.MENTIONS_WITH_HASHTAGS, AddOrder(service="1", link="https://x", quantity=10, usernames=["a"], hashtags=["#b"])),
    (T.MENTIONS_CUSTOM_LIST, AddOrder(service="1", link="https://x", usernames=["a"])),
    (T.MENTIONS_HASHTAG, AddOrder(service="1", link="https://x", quantity=10, hashtag="#a")),
    (T.MENTIONS_USER_FOLLOWERS, AddOrder(service="1", link="https://x", quantity=10, username="https://u")),
    (T.MENTIONS_MEDIA_LIKERS, AddOrder(service="1", link="https://x", quantity=10, media="https://m")),
    (T.COMMENT_LIKES, AddOrder(service="1", link="https://x", quantity=10, username="owner")),
    (T.COMMENT_REPLIES, AddOrder(service="1", link="https://x", username="owner", comments=["hi"])),
    (T.POLL, AddOrder(service="1", link="https://x", quantity=10, answer_number=1)),
    (T.INVITES_FROM_GROUPS, AddOrder(service="1", link="https://x", quantity=10, groups=["g"])),
    (T.SUBSCRIPTIONS, AddOrder(service="1", username="u", min=1, max=2, delay=0)),
    (T.SUBSCRIPTIONS, AddOrder(service="1", username="u", min=1, max=2, delay=600, posts=0, old_posts=5,
                               expiry=date(2030, 1, 1))),
])
def test_check_for_accepts_each_type_with_its_fields(service_type: ServiceType, order: AddOrder) -> None:
    order.check_for(service_type)


@pytest.mark.parametrize(("service_type", "order", "culprit"), [
    (T.DEFAULT, AddOrder(service="1", link="https://x"), "quantity"),
    (T.DEFAULT, AddOrder(service="1", quantity=10), "link"),
    (T.DEFAULT, AddOrder(service="1", link="  ", quantity=10), "link"),
    (T.DEFAULT, AddOrder(service="1", link="https://x", quantity=10, comments=["a"]), "comments"),
    (T.DEFAULT, AddOrder(service="1", link="https://x", quantity=10, runs=2), "runs"),
    (T.DEFAULT, AddOrder(service="1", link="https://x", quantity=0), "quantity"),
    (T.DEFAULT, AddOrder(service="1", link="https://x", quantity=10, runs=0, interval=5), "runs"),
    (T.DEFAULT, AddOrder(service="1", link="https://x", quantity=10, runs=2, interval=-1), "interval"),
    (T.PACKAGE, AddOrder(service="1", link="https://x", quantity=10), "quantity"),
    (T.CUSTOM_COMMENTS, AddOrder(service="1", link="https://x", comments="\n \n"), "comments"),
    (T.CUSTOM_COMMENTS, AddOrder(service="1", link="https://x", comments=["a"], quantity=1), "quantity"),
    (T.MENTIONS_WITH_HASHTAGS, AddOrder(service="1", link="https://x", quantity=10, usernames=["a"]), "hashtags"),
    (T.POLL, AddOrder(service="1", link="https://x", quantity=10, answer_number=1, runs=2, interval=5), "interval"),
    (T.SUBSCRIPTIONS, AddOrder(service="1", username="u", min=1, max=2, delay=0, link="https://x"), "link"),
    (T.SUBSCRIPTIONS, AddOrder(service="1", username="u", min=3, max=2, delay=0), "min"),
    (T.SUBSCRIPTIONS, AddOrder(service="1", username="u", min=1, max=2, delay=7), "delay"),
    (T.SUBSCRIPTIONS, AddOrder(service="1", username="u", min=1, max=2), "delay"),
])
def test_check_for_names_the_culprit(service_type: ServiceType, order: AddOrder, culprit: str) -> None:
    with pytest.raises(ValidationError) as caught:
        order.check_for(service_type)
    assert caught.value.field == culprit


def test_dripfeed_needs_a_dripfeed_service() -> None:
    order = AddOrder(service="1", link="https://x", quantity=10, runs=2, interval=5)
    with pytest.raises(ValidationError):
        order.check_for(T.DEFAULT, dripfeed_allowed=False)


def test_form_fields() -> None:
    order = AddOrder(service=7, link=" https://x ", quantity=10, usernames="a\r\n\n b ", hashtags=("#x",),
                     expiry=date(2024, 2, 3))
    assert order.form_fields() == {"service": "7", "link": "https://x", "quantity": "10", "usernames": "a\nb",
                                   "hashtags": "#x", "expiry": "03/02/2024"}


@pytest.mark.parametrize(("message", "kind"), [
    ("Invalid API key", ProviderErrorKind.AUTH), ("Incorrect API key", ProviderErrorKind.AUTH),
    ("API is Disable for this user or User Not Found! Contact the Support", ProviderErrorKind.AUTH),
    ("Not enough funds on balance", ProviderErrorKind.BALANCE),
    ("neworder.error.not_enough_funds", ProviderErrorKind.BALANCE),
    ("Incorrect service ID", ProviderErrorKind.SERVICE), ("error.incorrect_service_id", ProviderErrorKind.SERVICE),
    ("Service ID does not exists", ProviderErrorKind.SERVICE),
    ("Quantity less than minimal 1000", ProviderErrorKind.QUANTITY),
    ("Quantity more than maximum 1000", ProviderErrorKind.QUANTITY),
    ("Incorrect link", ProviderErrorKind.LINK), ("Bad link", ProviderErrorKind.LINK),
    ("You have active order with this link. Please wait until order being completed.",
     ProviderErrorKind.DUPLICATE_LINK),
    ("Incorrect order ID", ProviderErrorKind.NOT_FOUND), ("Incorrect Order ID", ProviderErrorKind.NOT_FOUND),
    ("Order not found", ProviderErrorKind.NOT_FOUND), ("Refill not found", ProviderErrorKind.NOT_FOUND),
    ("Refill Request Not found", ProviderErrorKind.NOT_FOUND),
    ("Order not eligible for refill.", ProviderErrorKind.NOT_ALLOWED),
    ("Incorrect request", ProviderErrorKind.BAD_REQUEST), ("Request Invalid", ProviderErrorKind.BAD_REQUEST),
    ("This action is Invalid", ProviderErrorKind.BAD_REQUEST),
    ("Something odd", ProviderErrorKind.UNKNOWN),
])
def test_classify_provider_error(message: str, kind: ProviderErrorKind) -> None:
    assert classify_provider_error(message) is kind


def test_chunked() -> None:
    assert chunked(["1", "2", "1", " 3 "], 2) == [["1", "2"], ["3"]]
    assert chunked([]) == []
    assert [len(c) for c in chunked([str(i) for i in range(250)])] == [100, 100, 50]
