"""Signing benchmark: us vs raw `cryptography` and botocore's CloudFrontSigner, one run.

    python benchmarks/signing.py [--seconds 4.0] [--rounds 16] [--kms]

Prints operations per second for each case and the ratios (the median of the
per-round ratios, and the middle half of them to show the spread). Two have targets:
canned URLs >= 0.9x raw RSA-2048 signing, wildcard-custom URLs (signature cached)
>= 50x botocore's URL rate. Verification against raw RSA verification is reported
for reference only: the verifier checks every signature with cryptography's own
verify(), and no longer trades that for speed.

``--kms`` adds the KmsSigner's rates against moto's KMS on loopback (needs
``moto[server]``): canned URLs (one KMS Sign call each) and wildcard-policy URLs (one
Sign for the policy, then the cache), with the Sign calls counted. No target: moto is
not KMS (a real Sign is a round trip to the key's Region), the point is the ratio.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mediastore_ingest._internal.b64 import cf_b64decode
from mediastore_ingest.signing.policy import CannedPolicy, CustomPolicy
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import UrlVerifier

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
    parser.add_argument(
        "--seconds", type=float, default=4.0,
        help="time per case in each pair it is in (raw verify is in several)",
    )
    parser.add_argument("--rounds", type=int, default=16, help="interleaved rounds")
    parser.add_argument(
        "--kms", action="store_true", help="also time the KMS signer against moto's KMS"
    )
    parser.add_argument(
        "--kms-only", action="store_true", help="time the KMS signer only (implies --kms)"
    )
    args = parser.parse_args(argv)
    if args.kms_only:
        return kms_section(args.seconds / max(1, args.rounds) * 4)
    s = args.seconds

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key()
    pkcs1, sha1 = padding.PKCS1v15(), hashes.SHA1()
    # SHA-1, as the raw signatures and botocore's signer here: like for like.
    signer = UrlSigner(KID, key, hash_algorithm="SHA1")
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
    # stream's new segments: 8192 distinct URLs, more than any cache in the package
    # holds, verified with the signature cache off and, for reference, on (the
    # default, where every one of them is a miss).
    fresh = [signer.sign_url(url(i), expires=EXPIRES - 1 - i) for i in range(8192)]
    cold = UrlVerifier({KID: pub}, cache_size=0)
    cases.append(
        ("ours verify canned URL (no cache)", lambda i: cold.verify_url(fresh[i % 8192], now=0))
    )
    missing = UrlVerifier({KID: pub})
    cases.append(
        ("ours verify canned URL (cache, all misses)",
         lambda i: missing.verify_url(fresh[i % 8192], now=0))
    )
    # What any Python verifier pays before it parses anything: the raw verify plus
    # decoding CloudFront's base64 signature text (strict, as the verifier must).
    sig_text = signer.sign_url(url(0), expires=EXPIRES).split("Signature=")[1].split("&")[0]
    cases.append(
        ("raw verify + base64 decode of the signature",
         lambda i: pub.verify(cf_b64decode(sig_text), message, pkcs1, sha1)),
    )
    # Each target is a pair measured back to back, in alternating order, every round,
    # so both sides of a ratio see the same moment of this shared machine; a ratio is
    # the median of its per-round ratios and a rate the median of its measurements.
    pairs = [
        ("canned URL / raw RSA sign", "ours canned URL", "raw cryptography RSA-2048 sign", 0.9),
        ("wildcard URL / botocore URL", "ours wildcard-custom URL (cache warm)",
         "botocore wildcard-custom URL", 50.0),
        ("verify canned (no cache) / raw RSA verify", "ours verify canned URL (no cache)",
         "raw cryptography RSA-2048 verify", None),
        ("verify wildcard (warm) / raw RSA verify", "ours verify wildcard URL (cache warm)",
         "raw cryptography RSA-2048 verify", None),
        ("verify canned (cache misses) / raw verify", "ours verify canned URL (cache, all misses)",
         "raw cryptography RSA-2048 verify", None),
        ("(floor) raw verify + base64 / raw verify", "raw verify + base64 decode of the signature",
         "raw cryptography RSA-2048 verify", None),
    ]
    by_name = dict(cases)
    paired = {name for _, ours, peer, _ in pairs for name in (ours, peer)}
    alone = [name for name, _ in cases if name not in paired]
    rounds = max(1, args.rounds)
    window = s / rounds
    print(f"# {platform.python_implementation()} {platform.python_version()} on "
          f"{platform.machine()}; {rounds} rounds of {window:.2f} s per case, "
          "each ratio's two sides back to back")
    measured: dict[str, list[float]] = {name: [] for name, _ in cases}
    ratios: dict[str, list[float]] = {label: [] for label, *_ in pairs}
    for r in range(rounds):
        for label, ours, peer, _ in pairs:
            first, second = (ours, peer) if r % 2 == 0 else (peer, ours)
            got = {first: rate(by_name[first], window), second: rate(by_name[second], window)}
            ratios[label].append(got[ours] / got[peer])
            for name, value in got.items():
                measured[name].append(value)
        for name in alone:
            measured[name].append(rate(by_name[name], window))
    for name, _ in cases:
        results[name] = statistics.median(measured[name])
        print(f"{name:42s} {results[name]:>12,.0f} /s")

    print()
    print(f"{'':42s} {'median':>9s}  {'middle half of rounds':>21s}")
    ok = True
    for label, _, _, target in pairs:
        value = statistics.median(ratios[label])
        q1, _, q3 = statistics.quantiles(ratios[label], n=4, method="inclusive") if rounds > 1 else (value,) * 3
        spread = f"{q1:.3f}-{q3:.3f}" if value < 10 else f"{q1:.1f}-{q3:.1f}"
        shown = f"{value:.3f}x" if value < 10 else f"{value:.1f}x"
        if target is None:
            print(f"{label:42s} {shown:>9s}  {spread:>21s}  (for reference)")
            continue
        verdict = "ok" if value >= target else "BELOW TARGET"
        ok &= value >= target
        print(f"{label:42s} {shown:>9s}  {spread:>21s}  (target >= {target}x) {verdict}")
    if args.kms:
        kms_section(window * 4)
    return 0 if ok else 1


def _canned(signer: UrlSigner, i: int) -> str:
    return signer.sign_url(f"{BASE}seg{i}.ts", expires=EXPIRES)


def _custom(signer: UrlSigner, policy: CustomPolicy, i: int) -> str:
    return signer.sign_url(f"{BASE}seg{i}.ts", policy=policy)


def kms_section(seconds: float) -> int:
    """KmsSigner against moto's KMS on 127.0.0.1: canned vs wildcard-policy URLs."""
    try:
        import botocore.session
        from moto.server import ThreadedMotoServer
    except ImportError:
        print("\n# --kms needs moto[server] (pip install 'moto[server]')")
        return 1
    import logging

    from mediastore_ingest.signing.kms import KmsSigner

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = botocore.session.get_session().create_client(
            "kms", region_name="us-east-1", endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106 (moto)
        )
        calls = [0]

        def count(**kwargs: object) -> None:
            calls[0] += 1

        client.meta.events.register("before-call.kms.Sign", count)
        print(f"\n# KmsSigner against moto's KMS on {host}:{port} (not AWS: the ratio "
              f"matters), {seconds:.2f} s per case")
        wildcard = CustomPolicy(BASE + "*", EXPIRES)
        for spec in ("RSA_2048", "ECC_NIST_P256"):
            arn = client.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
            signer = UrlSigner(KID, KmsSigner(arn, client=client))
            found: dict[str, tuple[float, int]] = {}
            cases: dict[str, Callable[[int], object]] = {
                "canned URL (one Sign each)": partial(_canned, signer),
                "wildcard-custom URL (cached)": partial(_custom, signer, wildcard),
            }
            for name, case in cases.items():
                calls[0] = 0
                found[name] = (rate(case, seconds), calls[0])
            for name, (per_second, sign_calls) in found.items():
                print(f"KMS {signer.algorithm:10s} {name:29s} {per_second:>12,.0f} /s"
                      f"   {sign_calls:,} Sign call(s)")
            ratio = found["wildcard-custom URL (cached)"][0] / found["canned URL (one Sign each)"][0]
            print(f"KMS {signer.algorithm:10s} {'wildcard / canned':29s} {ratio:>12,.0f}x")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
