"""A client process that registers PV modules one request at a time.

Run as ``python client.py URL API_KEY PREFIX COUNT OUT``: registers COUNT
``pv_module`` items with codes ``PREFIX-<n>`` through POST /v1/items and
writes one JSON line per acknowledged entry (seq, hash, item, code) to OUT.
Exits 1 at the first refusal or transport error, with the reason on stderr.
Standalone (httpx only), so it needs nothing from the project on its path.
"""

from __future__ import annotations

import json
import sys
import time

import httpx

DEADLINE_S = 120.0


def main(url: str, api_key: str, prefix: str, count: int, out_path: str) -> int:
    deadline = time.monotonic() + DEADLINE_S
    headers = {"Authorization": f"Bearer {api_key}"}
    with (
        httpx.Client(base_url=url, headers=headers, timeout=30.0) as client,
        open(out_path, "w", encoding="utf-8") as out,
    ):
        for n in range(count):
            if time.monotonic() > deadline:
                print(f"{prefix}: deadline passed after {n} appends", file=sys.stderr)
                return 1
            code = f"{prefix}-{n:06d}"
            body = {"kind": "pv_module", "code": code, "attributes": {"mass_kg": "22.5"}}
            try:
                response = client.post("/v1/items", json=body)
            except httpx.TransportError as exc:
                print(f"{prefix}: {code}: {exc!r}", file=sys.stderr)
                return 1
            if response.status_code != 201:
                print(f"{prefix}: {code}: {response.status_code} {response.text}", file=sys.stderr)
                return 1
            answer = response.json()
            entry = answer["entry"]
            out.write(
                json.dumps(
                    {
                        "seq": entry["seq"],
                        "hash": entry["hash"],
                        "item": answer["item"]["id"],
                        "code": code,
                    }
                )
                + "\n"
            )
    return 0


if __name__ == "__main__":
    url, key, prefix, count, out_path = sys.argv[1:6]
    sys.exit(main(url, key, prefix, int(count), out_path))
