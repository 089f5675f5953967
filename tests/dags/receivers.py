"""Real local receivers for the alert tests: an HTTP webhook and an SMTP server.

Both listen on 127.0.0.1 on a free port, in a thread, and keep what they received. The
SMTP server speaks just enough of RFC 5321 for ``smtplib`` (EHLO, AUTH PLAIN, MAIL, RCPT,
DATA, QUIT); no TLS, so tests set ``MISSIONPULSE_ALERT_SMTP_STARTTLS=false``.
"""

from __future__ import annotations

import base64
import email
import json
import socketserver
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    """Collects JSON POSTs; answers ``status`` (200 unless told otherwise)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "json": json.loads(body),
                    }
                )
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """Collects the messages ``smtplib`` sends, with the envelope and the AUTH PLAIN login."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                envelope: dict[str, Any] = {"rcpt": [], "login": None}
                self.reply("220 localhost test SMTP")
                while line := self.rfile.readline():
                    command = line.decode().rstrip("\r\n")
                    verb = command.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250-localhost")
                        self.reply("250 AUTH PLAIN")
                    elif verb == "AUTH":
                        decoded = base64.b64decode(command.split()[2]).split(b"\0")
                        envelope["login"] = (decoded[1].decode(), decoded[2].decode())
                        self.reply("235 2.7.0 Authentication successful")
                    elif verb == "MAIL":
                        envelope["from"] = command.split(":", 1)[1].strip().strip("<>")
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        envelope["rcpt"].append(command.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk
                        envelope["message"] = email.message_from_bytes(data)
                        receiver.messages.append(envelope)
                        envelope = {"rcpt": [], "login": envelope["login"]}
                        self.reply("250 OK queued")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("250 OK")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def body(self, index: int = 0) -> str:
        message: Message = self.messages[index]["message"]
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode()

    def __enter__(self) -> SmtpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
