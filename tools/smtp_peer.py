"""A real SMTP server (aiosmtpd) for engage-mail's tests, on 127.0.0.1 only.

    python smtp_peer.py --port P --dir D [--tls-cert F --tls-key F] [--implicit-tls]
                        [--auth user:pass]
    python smtp_peer.py --make-cert DIR

Each accepted message is written to D/<n>.eml (the bytes as received) with its
envelope in D/<n>.json; n counts from 1. D/stats.json counts connections (open now,
most open at once, total) and mail transactions (from MAIL to the end of DATA or of
the connection: most at once), and D/ready appears once the server listens.

What happens depends on the recipient's local part:
  +t454  454 4.7.0 the first time this recipient is seen, then accepted
  +t421  421 4.3.2 (and the connection is closed) the first time, then accepted
  +p550  always 550 5.1.1 User unknown
  +slow  the message is stored, and the reply to DATA comes 2 seconds later

With --tls-cert/--tls-key the server offers STARTTLS and requires it before MAIL;
with --implicit-tls as well it speaks TLS from the first byte (SMTPS). With --auth
it requires AUTH (PLAIN or LOGIN) with those credentials, over TLS only.

--make-cert DIR writes a fresh test CA (ca.pem) and a certificate for 127.0.0.1 and
localhost signed by it (cert.pem, key.pem), made with trustme, and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never a part."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class Stats:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "stats.json"
        self.lean = False
        self.open = 0
        self.max_open = 0
        self.total = 0
        self.transactions = 0
        self.max_transactions = 0
        self.save()

    def began(self) -> None:
        self.transactions += 1
        self.max_transactions = max(self.max_transactions, self.transactions)
        self.save()

    def ended(self) -> None:
        self.transactions -= 1
        self.save()

    def opened(self) -> None:
        self.open += 1
        self.total += 1
        self.max_open = max(self.max_open, self.open)
        self.save()

    def closed(self) -> None:
        self.open -= 1
        self.save()

    def save(self) -> None:
        if self.lean:
            return
        body = {
            "open": self.open,
            "max_open": self.max_open,
            "total": self.total,
            "max_transactions": self.max_transactions,
        }
        write_atomically(self.path, json.dumps(body).encode())


class Handler:
    def __init__(self, directory: Path, stats: Stats, lean: bool = False) -> None:
        self.dir = directory
        self.stats = stats
        self.lean = lean
        self.count = 0
        self.refused_once: set[tuple[str, str]] = set()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        server.in_transaction = True
        self.stats.began()
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if "+p550" in local:
            return "550 5.1.1 User unknown"
        for tag, reply in (
            ("+t454", "454 4.7.0 Temporary failure, try again later"),
            ("+t421", "421 4.3.2 Service shutting down, try again later"),
        ):
            if tag in local and (tag, address) not in self.refused_once:
                self.refused_once.add((tag, address))
                return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        n = self.count
        if self.lean:
            # Benchmarks: the message only, one plain write (no envelope, no stats).
            (self.dir / f"{n}.eml").write_bytes(envelope.original_content)
            server.end_transaction()
            return f"250 2.0.0 OK queued as {n}"
        meta = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None or server.implicit_tls,
            "authenticated": bool(session.authenticated),
            "connection": server.connection_number,
            "login": (
                session.auth_data.login.decode("utf-8", "replace")
                if isinstance(session.auth_data, LoginPassword)
                else None
            ),
        }
        # The message before the JSON: a reader that sees n.json finds n.eml whole.
        write_atomically(self.dir / f"{n}.eml", envelope.original_content)
        write_atomically(self.dir / f"{n}.json", json.dumps(meta).encode())
        server.end_transaction()
        if any("+slow" in r.split("@", 1)[0].lower() for r in envelope.rcpt_tos):
            await asyncio.sleep(2)
        return f"250 2.0.0 OK queued as {n}"


class PeerSMTP(SMTP):
    """aiosmtpd's server, counting connections and closing the connection after a 421
    as RFC 5321 says a server does."""

    def __init__(self, *args, stats: Stats, implicit_tls: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stats = stats
        self.implicit_tls = implicit_tls
        self._counted = False
        self._lost = False
        self.in_transaction = False
        self.connection_number = 0

    def end_transaction(self) -> None:
        if self.in_transaction:
            self.in_transaction = False
            self.stats.ended()

    def _set_rset_state(self) -> None:
        # RSET, and a new EHLO, end the transaction.
        super()._set_rset_state()
        if getattr(self, "stats", None) is not None:
            self.end_transaction()

    def connection_made(self, transport) -> None:
        first = not self._counted
        super().connection_made(transport)
        if first:
            self._counted = True
            self.stats.opened()
            self.connection_number = self.stats.total

    def connection_lost(self, error) -> None:
        super().connection_lost(error)
        self.end_transaction()
        if self._counted and not self._lost:
            self._lost = True
            self.stats.closed()

    async def push(self, status) -> None:
        await super().push(status)
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else status
        if text.startswith("421") and self.transport is not None:
            self.transport.close()


def make_cert(directory: Path) -> None:
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(str(directory / "cert.pem"))
    cert.private_key_pem.write_to_path(str(directory / "key.pem"))


def authenticator_for(credentials: str):
    user, _, password = credentials.partition(":")
    expected = (user.encode(), password.encode())

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password) == expected
        )
        # handled=False: aiosmtpd then replies 535 itself (True would leave the
        # client waiting for a reply that never comes).
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate


async def serve(args: argparse.Namespace) -> None:
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    stats = Stats(directory)
    stats.lean = bool(args.lean)
    handler = Handler(directory, stats, lean=bool(args.lean))

    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    implicit = bool(args.implicit_tls)
    if implicit and context is None:
        sys.exit("--implicit-tls needs --tls-cert and --tls-key")

    kwargs = dict(
        hostname="smtp-peer.localhost",  # no getfqdn(): no DNS look-up at start
        data_size_limit=10 * 1024 * 1024,
        timeout=60,
    )
    if context is not None and not implicit:
        kwargs.update(tls_context=context, require_starttls=True)
    if args.auth:
        kwargs.update(
            authenticator=authenticator_for(args.auth),
            auth_required=True,
            # On an implicit-TLS connection aiosmtpd does not know it is encrypted.
            auth_require_tls=not implicit,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: PeerSMTP(handler, stats=stats, implicit_tls=implicit, **kwargs),
        host="127.0.0.1",
        port=args.port,
        ssl=context if implicit else None,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    write_atomically(directory / "ready", b"")
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int)
    parser.add_argument("--dir")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--implicit-tls", action="store_true")
    parser.add_argument("--auth", metavar="USER:PASS")
    parser.add_argument("--make-cert", metavar="DIR")
    parser.add_argument(
        "--lean",
        action="store_true",
        help="benchmarks: keep only each message, with one plain write",
    )
    args = parser.parse_args()
    if args.make_cert:
        make_cert(Path(args.make_cert))
        return
    if args.port is None or args.dir is None:
        parser.error("--port and --dir are required")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
