"""Signing benchmark: us vs raw `cryptography` and botocore's CloudFrontSigner, one run.

    python benchmarks/signing.py [--seconds 2.0] [--rounds 8]

Prints operations per second for each case and the ratios the project targets:
canned URLs >= 0.9x raw RSA-2048 signing, wildcard-custom URLs (signature cached)
>= 50x botocore's URL rate, verification >= 0.8x raw RSA verification.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mediastore_ingest.policies import CannedPolicy, CustomPolicy
from mediastore_ingest.signing import UrlSigner, UrlVerifier

KID = "K2JCJMDEHXQW5F"
EXPIRES = 2_000_000_000
BASE = "https://d111111abcdef8.cloudfront.net/live/channel1/"


def rate(fn: Callable[[int], object], seconds: float) -> float:
    """Calls per second of fn(i), i counting up, over about `seconds`."""
    fn(0)  # warm up
    n, i = 0, 1
    start = time.perf_counter()
    deadline = start + seconds
    batch = 16
    while True:
        for _ in range(batch):
            fn(i)
            i += 1
        n += batch
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)
        batch = min(batch * 2, 4096)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="total time per case")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds")
    args = parser.parse_args(argv)
    s = args.seconds

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key()
    pkcs1, sha1 = padding.PKCS1v15(), hashes.SHA1()
    signer = UrlSigner(KID, key)
    verifier = UrlVerifier({KID: pub})
    botocore_signer = CloudFrontSigner(KID, lambda m: key.sign(m, pkcs1, sha1))
    wildcard = CustomPolicy(BASE + "*", EXPIRES)

    def url(i: int) -> str:
        return f"{BASE}seg{i}.ts"

    message = CannedPolicy(url(0), EXPIRES).to_json().encode()
    raw_sig = key.sign(message, pkcs1, sha1)
    signed_canned = [signer.sign_url(url(i), expires=EXPIRES) for i in range(256)]
    signed_custom = [signer.sign_url(url(i), policy=wildcard) for i in range(256)]
    cookies = signer.sign_cookies(wildcard)
    import datetime as dt

    bc_when = dt.datetime.fromtimestamp(EXPIRES, tz=dt.timezone.utc)
    bc_policy = botocore_signer.build_policy(BASE + "*", bc_when)

    results: dict[str, float] = {}
    cases: list[tuple[str, Callable[[int], object]]] = [
        ("raw cryptography RSA-2048 sign", lambda i: key.sign(message, pkcs1, sha1)),
        ("raw cryptography RSA-2048 verify", lambda i: pub.verify(raw_sig, message, pkcs1, sha1)),
        ("botocore canned URL", lambda i: botocore_signer.generate_presigned_url(
            url(i), date_less_than=bc_when)),
        ("botocore wildcard-custom URL", lambda i: botocore_signer.generate_presigned_url(
            url(i), policy=bc_policy)),
        ("ours canned URL", lambda i: signer.sign_url(url(i), expires=EXPIRES)),
        ("ours wildcard-custom URL (cache warm)", lambda i: signer.sign_url(url(i), policy=wildcard)),
        ("ours signed cookies (cache warm)", lambda i: signer.sign_cookies(wildcard)),
        ("ours verify canned URL", lambda i: verifier.verify_url(signed_canned[i % 256], now=0)),
        ("ours verify wildcard URL (cache warm)",
         lambda i: verifier.verify_url(signed_custom[i % 256], now=0)),
        ("ours verify cookies (cache warm)",
         lambda i: verifier.verify_cookies(url(i), cookies, now=0)),
    ]
    # Canned verification of URLs met for the first time, as an edge meets a live
    # stream's new segments: the verifier's signature cache is off, and the pool is
    # twice the URL normaliser's cache (4096), so cycling through it never hits there.
    fresh = [signer.sign_url(url(i), expires=EXPIRES - 1 - i) for i in range(8192)]
    cold = UrlVerifier({KID: pub}, cache_size=0)
    cases.append(
        ("ours verify canned URL (no cache)", lambda i: cold.verify_url(fresh[i % 8192], now=0))
    )
    rounds = max(1, args.rounds)
    window = s / rounds
    print(f"# {platform.python_implementation()} {platform.python_version()} on "
          f"{platform.machine()}; {rounds} interleaved rounds of {window:.2f} s per case")
    # Cases take turns, round after round, so a burst of load on this shared machine
    # hits both sides of a ratio alike; each ratio is the median of its per-round
    # ratios, each rate the median of its per-round rates.
    per_round: dict[str, list[float]] = {name: [] for name, _ in cases}
    for r in range(rounds):
        order = cases[r % len(cases):] + cases[: r % len(cases)]
        for name, fn in order:
            per_round[name].append(rate(fn, window))
    for name, _ in cases:
        results[name] = statistics.median(per_round[name])
        print(f"{name:42s} {results[name]:>12,.0f} /s")

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(per_round[a], per_round[b], strict=True))

    checks = [
        ("canned URL / raw RSA sign", ratio("ours canned URL", "raw cryptography RSA-2048 sign"), 0.9),
        ("wildcard URL / botocore URL",
         ratio("ours wildcard-custom URL (cache warm)", "botocore wildcard-custom URL"), 50.0),
        ("verify canned (no cache) / raw RSA verify",
         ratio("ours verify canned URL (no cache)", "raw cryptography RSA-2048 verify"), 0.8),
        ("verify wildcard (warm) / raw RSA verify",
         ratio("ours verify wildcard URL (cache warm)", "raw cryptography RSA-2048 verify"), 0.8),
    ]
    print()
    ok = True
    for name, value, target in checks:
        verdict = "ok" if value >= target else "BELOW TARGET"
        ok &= value >= target
        print(f"{name:42s} {value:>8.2f}x  (target >= {target}x) {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
