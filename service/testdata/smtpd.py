"""A real SMTP server for the email notification test (python3-aiosmtpd).

smtpd.py PORT CERT KEY USER PASSWORD-FILE OUTDIR: offers STARTTLS with
CERT/KEY, takes AUTH only over TLS and only USER with the password in
PASSWORD-FILE, and writes each message to OUTDIR/<n>.eml and a line per
event to stdout (auth ok/refused, tls yes/no per message).
"""
import asyncio
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

port, cert, key, user, pwfile, outdir = sys.argv[1:7]
password = open(pwfile).read().strip()


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login.decode() == user and auth_data.password.decode() == password
    print("auth", "ok" if ok else "refused", auth_data.login.decode(), flush=True)
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535


class Handler:
    n = 0

    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        path = os.path.join(outdir, "%d.eml" % Handler.n)
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        print("message", Handler.n, "tls" if session.ssl else "plain", "from", envelope.mail_from,
              "to", ",".join(envelope.rcpt_tos), flush=True)
        return "250 OK"


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
c = Controller(Handler(), hostname="127.0.0.1", port=int(port), tls_context=ctx,
               require_starttls=True, authenticator=authenticator, auth_require_tls=True)
c.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    c.stop()
