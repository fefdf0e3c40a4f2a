#!/usr/bin/python3
"""A real SMTP relay for the alert tests: aiosmtpd (Debian python3-aiosmtpd) that, like a
corporate submission server on port 587, demands STARTTLS before anything else and SMTP AUTH
(LOGIN or PLAIN) before MAIL FROM.

  alert_smtp_server.py --port P --cert CERT.pem --key KEY.pem --user U --password-file F --out DIR

Each accepted message is written to DIR/<n>.eml (the DATA as received, after an
"X-Auth-Login:" and "X-Peer-TLS:" line added here so the test can check how it came); every
AUTH attempt is appended to DIR/auth.log as "<mechanism> <login> ok|refused" (never the
password). Prints "ready <port>" on stdout once it accepts connections; stops on SIGTERM.
Listens on 127.0.0.1 only.
"""

import argparse
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    """Writes accepted messages to the output directory."""

    def __init__(self, out):
        self.out = out
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if isinstance(session.auth_data,
                                                                LoginPassword) else "-"
        tls = "yes" if session.ssl else "no"
        with self.lock:
            self.count += 1
            path = os.path.join(self.out, f"{self.count}.eml")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode()
        with open(path + ".tmp", "wb") as f:
            f.write(f"X-Auth-Login: {login}\r\nX-Peer-TLS: {tls}\r\n".encode())
            f.write(f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n".encode())
            f.write(data)
        os.rename(path + ".tmp", path)  # the test only ever sees whole messages
        return "250 Message accepted for delivery"


def authenticator(user, password, out):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode() and
              auth_data.password == password.encode())
        login = auth_data.login.decode(errors="replace") if isinstance(
            auth_data, LoginPassword) else "?"
        with open(os.path.join(out, "auth.log"), "a") as f:
            f.write(f"{mechanism} {login} {'ok' if ok else 'refused'}\n")
        # handled=False: aiosmtpd answers 535 itself on a refusal.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
    return check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.password_file) as f:
        password = f.read().rstrip("\n")
    os.makedirs(args.out, exist_ok=True)

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    controller = Controller(
        Store(args.out), hostname="127.0.0.1", port=args.port,
        tls_context=tls, require_starttls=True,
        auth_required=True, auth_require_tls=True,
        authenticator=authenticator(args.user, password, args.out))
    controller.start()
    print(f"ready {args.port}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
