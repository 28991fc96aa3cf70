"""Memory of a guarded worker: RSS after many distinct valid tokens (the verified-token cache is
bounded, so it must level off).

.. code-block:: console

    $ python bench/memory.py              # 100,000 distinct tokens through with_auth
    $ python bench/memory.py --tokens 20000
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import sys

if __package__ in (None, ""):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from bench import apps  # noqa: E402


def rss_mib() -> float:
    """This process's resident set size (Linux ``/proc``), in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=100_000, help="distinct valid tokens to send")
    args = parser.parse_args(argv)

    from flask_authguard import encode
    from flask_authguard.core import jwt as jwt_mod

    app = apps.with_auth_app()
    for i in range(100):  # warm: imports, caches, allocator
        token = encode(token={**apps.CLAIMS, "sub": f"warm{i}"}, secret=apps.SECRET)
        apps.caller(app, apps.environ_for(f"{apps.cookie_name()}={token}"))()
    gc.collect()
    before = rss_mib()
    for i in range(args.tokens):
        token = encode(token={**apps.CLAIMS, "sub": str(i)}, secret=apps.SECRET)
        apps.caller(app, apps.environ_for(f"{apps.cookie_name()}={token}"))()
    gc.collect()
    after = rss_mib()
    cache = jwt_mod.verified_tokens
    print(
        f"RSS {before:.1f} MiB after warm-up, {after:.1f} MiB after {args.tokens:,} distinct valid tokens "
        f"({after - before:+.1f} MiB); verified-token cache: {len(cache)} entries "
        f"(bound: {cache.maxsize} tokens of at most {cache.max_token_length // 1024} KB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
