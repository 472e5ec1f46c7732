"""The network policy's pure parts at their edges: `--resolve`, mapped addresses, opt-out
scoping, and the resolver's cache (what the mutation run found untested)."""

from __future__ import annotations

import pytest

from pipeline.netpolicy import ResolveError, Resolver, address_allowed, opted_out, parse_resolve


def test_parse_resolve_entries() -> None:
    spec = " A.Test=127.0.0.1:80,*.b.test=[::1]:8080 ,, "
    assert parse_resolve(spec) == (("a.test", "127.0.0.1", 80), ("*.b.test", "::1", 8080))
    assert parse_resolve("") == ()


@pytest.mark.parametrize("bad", ["nonsense", "=1.2.3.4:80", "h=:80", "h=1.2.3.4", "h=1.2.3.4:x"])
def test_parse_resolve_rejects_each_missing_part(bad: str) -> None:
    with pytest.raises(ValueError, match=r"HOST=IP:PORT, got '"):
        parse_resolve(bad)


def test_mapped_ipv6_addresses_follow_the_ipv4_policy() -> None:
    assert not address_allowed("::ffff:10.0.0.1")
    assert not address_allowed("::ffff:169.254.169.254", ("169.254.0.0/16",))
    assert address_allowed("::ffff:127.0.0.1", ("127.0.0.0/8",))
    assert address_allowed("::ffff:93.184.216.34")


def test_allowed_network_with_host_bits_set() -> None:
    assert address_allowed("127.0.0.5", ("127.0.0.1/8",))  # as users write it: not strict
    assert not address_allowed("10.0.0.1", ("127.0.0.1/8",))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["nofollow,noai"], True),  # comma-separated without spaces
        (["*: noimageai"], True),  # every robot
        (["WIT-Pipeline: NoAI"], True),  # case-insensitive
        (["otherbot: noai", "nofollow"], False),
        (["noindex"], True),
        ([], False),
    ],
)
def test_opt_out_values(values: list[str], expected: bool) -> None:
    assert opted_out(values) is expected


class _Lookup:
    def __init__(self, answers: dict[tuple[str, int], list[str] | Exception]) -> None:
        self.answers, self.calls = answers, []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        answer = self.answers[(host, port)]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_resolver_caches_per_host_and_port() -> None:
    lookup = _Lookup({("a.test", 80): ["1.2.3.4", "5.6.7.8"], ("a.test", 443): ["9.9.9.9"]})
    resolver = Resolver(lookup=lookup)
    assert resolver.resolve("a.test", 80) == ("1.2.3.4", 80)
    assert resolver.resolve("a.test", 80) == ("1.2.3.4", 80)
    assert resolver.resolve("a.test", 443) == ("9.9.9.9", 443)
    assert lookup.calls == [("a.test", 80), ("a.test", 443)]  # one lookup per (host, port)


def test_resolver_caches_failures_and_says_why() -> None:
    lookup = _Lookup({("gone.test", 80): ResolveError("NXDOMAIN"), ("empty.test", 80): []})
    resolver = Resolver(lookup=lookup)
    for _ in range(2):
        with pytest.raises(ResolveError, match="NXDOMAIN"):
            resolver.resolve("gone.test", 80)
        with pytest.raises(ResolveError, match="^no address$"):
            resolver.resolve("empty.test", 80)
    assert lookup.calls == [("gone.test", 80), ("empty.test", 80)]


def test_resolver_overrides_and_literals_skip_the_lookup() -> None:
    lookup = _Lookup({})
    resolver = Resolver((("*.sample.test", "127.0.0.1", 9000),), lookup=lookup)
    assert resolver.resolve("cdn.sample.test", 80) == ("127.0.0.1", 9000)
    assert resolver.resolve("10.1.2.3", 81) == ("10.1.2.3", 81)
    assert resolver.resolve("::1", 82) == ("::1", 82)
    assert lookup.calls == []


def test_system_resolver_answers_localhost() -> None:
    ip, port = Resolver().resolve("localhost", 8080)  # /etc/hosts: no network needed
    assert port == 8080 and ip in ("127.0.0.1", "::1")
    assert not address_allowed(ip)  # and loopback stays refused without an opt-in


def test_system_resolver_failure_says_why() -> None:
    with pytest.raises(ResolveError, match="label"):  # refused before any DNS query
        Resolver().resolve("a" * 64 + ".test", 80)
