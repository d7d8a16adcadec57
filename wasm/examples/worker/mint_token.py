#!/usr/bin/env python3
"""Mints a token the example worker (worker.js) accepts, as an origin server would: with the
keywheel Python package, from the cluster's main key file and the clock.

    mint_token.py --key-file main.key --subject alice [--time UNIX_SECONDS]

The token key is the HMAC-SHA256 key of keywheel's session-ticket key for the label
"tokens.example" (aes256, a new key every 3600 s) for the interval of --time (default: now).
Token: base64url(name) "." base64url(subject) "." base64url(HMAC-SHA256(key, name + subject)),
name being the key's public 16-byte name, by which the worker finds the key.
"""

import argparse
import base64
import hashlib
import hmac
import time

import keywheel

LABEL = "tokens.example"
INTERVAL = 3600
KEEP = 1


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(main: keywheel.MainKey, subject: str, now: int) -> str:
    key = keywheel.TicketKeys(main, LABEL, "aes256", INTERVAL, keep=KEEP).current(now)
    payload = subject.encode()
    mac = hmac.new(key.hmac_key, key.name + payload, hashlib.sha256).digest()
    return ".".join(b64url(part) for part in (key.name, payload, mac))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--key-file", required=True, help="the main key file (mode 0600)")
    parser.add_argument("--subject", required=True)
    parser.add_argument("--time", type=int, help="unix time to mint at (default: now)")
    args = parser.parse_args()
    main_key = keywheel.MainKey.from_file(args.key_file)
    now = args.time if args.time is not None else int(time.time())
    print(mint(main_key, args.subject, now))


if __name__ == "__main__":
    main()
