"""The guarded outbound client against a local site: reachable only through the test-only
allow setting, and by default refused at every address inside, after DNS, on every hop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chat_app.outbound import MAX_REDIRECTS, Outbound, Refused
from tests.sites import Site, local_site


@pytest.fixture
async def site() -> AsyncIterator[Site]:
    async with local_site() as running:
        yield running


@pytest.fixture
async def guarded() -> AsyncIterator[Outbound]:
    client = Outbound(timeout=2.0)
    yield client
    await client.close()


@pytest.fixture
async def allowed() -> AsyncIterator[Outbound]:
    """What the tests' setting makes of it: 127.0.0.1 (only) let through."""
    client = Outbound(timeout=1.0, max_bytes=100_000, allow="127.0.0.1")
    yield client
    await client.close()


async def test_the_local_page_is_reached_only_through_the_allow_setting(
    site: Site, guarded: Outbound, allowed: Outbound
) -> None:
    page = await allowed.get(f"{site.base}/page")
    assert page.media_type == "text/html" and b"The Parley handbook" in page.body
    with pytest.raises(Refused, match="not a public address"):
        await guarded.get(f"{site.base}/page")
    assert site.hits["/page"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1.2.3:8080/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00:ec2::254]/",  # a cloud's metadata over IPv6
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
    ],
)
async def test_addresses_inside_are_refused_by_default(guarded: Outbound, url: str) -> None:
    with pytest.raises(Refused, match="not a public address"):
        await guarded.get(url)


async def test_a_name_that_resolves_inside_is_refused_after_resolution(
    site: Site, guarded: Outbound
) -> None:
    port = site.base.rsplit(":", 1)[1]
    with pytest.raises(Refused, match="resolves to no public address"):
        await guarded.get(f"http://localhost:{port}/page")
    assert not site.hits


@pytest.mark.parametrize(
    "target",
    ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[::1]/"],
)
async def test_a_redirect_inside_is_refused(site: Site, allowed: Outbound, target: str) -> None:
    with pytest.raises(Refused, match="not a public address"):
        await allowed.get(f"{site.base}/to?url={target}")


async def test_redirects_are_followed_up_to_five(site: Site, allowed: Outbound) -> None:
    page = await allowed.get(f"{site.base}/hop/{MAX_REDIRECTS - 1}")
    assert b"The Parley handbook" in page.body and page.url.endswith("/page")
    with pytest.raises(Refused, match="more than 5 redirects"):
        await allowed.get(f"{site.base}/hop/{MAX_REDIRECTS}")


async def test_only_html_is_read_and_at_most_max_bytes(site: Site, allowed: Outbound) -> None:
    with pytest.raises(Refused, match="application/json is not fetched"):
        await allowed.get(f"{site.base}/json")
    big = await allowed.get(f"{site.base}/big")
    assert big.body.startswith(b"<title>Big</title>") and len(big.body) == 100_000


async def test_a_slow_page_is_given_up_on_in_time(site: Site, allowed: Outbound) -> None:
    with pytest.raises(Refused, match="no answer within 1 s"):
        await allowed.get(f"{site.base}/slow")


async def test_no_cookie_is_kept_or_sent(site: Site, allowed: Outbound) -> None:
    await allowed.get(f"{site.base}/page")
    await allowed.get(f"{site.base}/page")
    assert site.cookies == ["", ""]


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/",
        "gopher://example.com/",
        "http://user:secret@example.com/",
        "http:///nohost",
        "http://example.com:notaport/",
        "javascript:alert(1)",
    ],
)
async def test_other_urls_are_refused_before_any_connection(guarded: Outbound, url: str) -> None:
    with pytest.raises(Refused):
        await guarded.get(url)
