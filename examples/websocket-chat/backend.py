#!/usr/bin/env python3
"""The chat backend of the websocket-chat example (Python 3 standard library only).

Tollgate holds the clients' WebSocket connections and POSTs each event here: `/connect`,
`/sendmessage`, `/whoami`, `/disconnect` (see gateway.yaml). The connection id and the
principal (the api-key consumer) come in the `x-connection-id` and `x-principal-id`
headers. The backend talks back to clients through the gateway's `@connections` admin API;
the gateway's connection registry is the source of truth, so all this process keeps is
the display names clients chose.

    python3 examples/websocket-chat/backend.py [--port 9000] [--admin http://127.0.0.1:9901]
                          [--token change-me-chat-admin-token]
"""

import argparse
import json
import os
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# The API's `name` in gateway.yaml: broadcasts go to its connections.
API = "chat"

_print_lock = threading.Lock()


def log(line):
    """One line on stdout, flushed at once (the gateway's tests read it)."""
    with _print_lock:
        print(line, flush=True)


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class AdminError(Exception):
    pass


class Chat:
    """What the routes do."""

    def __init__(self, admin, token):
        self.admin = admin.rstrip("/")
        self.token = token
        self.names = {}  # connection id -> display name, for connections that chose one
        self.lock = threading.Lock()

    def broadcast(self, message):
        """Sends `message` to every connection of the API with one admin call; returns the
        gateway's counts (`{"sent": n, "gone": n, "queueFull": n}`)."""
        request = urllib.request.Request(
            f"{self.admin}/@connections?api={API}",
            data=compact(message).encode(),
            method="POST",
            headers={
                "authorization": f"Bearer {self.token}",
                "content-type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)
        except urllib.error.HTTPError as e:
            raise AdminError(f"the admin API answered {e.code}: {e.read().decode(errors='replace')}") from e
        except (urllib.error.URLError, OSError) as e:
            raise AdminError(f"the admin API at {self.admin} is unreachable: {e}") from e

    def connect(self, connection, principal, body):
        # Every connection that passed the api-key check is welcome.
        context = json.loads(body or b"{}")
        name = (context.get("queryStringParameters") or {}).get("name")
        if name:
            with self.lock:
                self.names[connection] = name
        log(f"connect {connection} principal={principal} name={name or principal}")
        return 200, None

    def sendmessage(self, connection, principal, body):
        try:
            message = json.loads(body)
        except ValueError:
            message = None
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(text, str) or not text:
            log(f"sendmessage {connection} principal={principal}: no text, ignored")
            return 400, {"message": "sendmessage needs a non-empty string `text`"}
        # `from` is the authenticated principal, which a client cannot choose; a display
        # name chosen with `?name=` comes as `name` beside it.
        out = {"from": principal, "text": text}
        with self.lock:
            name = self.names.get(connection)
        if name:
            out["name"] = name
        try:
            result = self.broadcast(out)
        except AdminError as e:
            log(f"sendmessage {connection} principal={principal}: broadcast failed: {e}")
            return 502, {"message": str(e)}
        log(f"sendmessage {connection} principal={principal} sent={result.get('sent')}")
        return 200, None

    def whoami(self, connection, principal, body):
        log(f"whoami {connection} principal={principal}")
        return 200, {"connectionId": connection, "principal": principal}

    def disconnect(self, connection, principal, body):
        context = json.loads(body or b"{}")
        with self.lock:
            self.names.pop(connection, None)
        code = context.get("disconnectStatusCode")
        # The gateway has already removed the connection from its registry when it calls
        # `$disconnect`, so a broadcast reaches the others only.
        try:
            result = self.broadcast({"system": f"{principal} left"})
            sent = result.get("sent")
        except AdminError as e:
            sent = f"none ({e})"
        log(f"disconnect {connection} principal={principal} code={code} sent={sent}")
        return 200, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the gateway reuses its connections here

    def do_POST(self):
        chat = self.server.chat
        route = {
            "/connect": chat.connect,
            "/sendmessage": chat.sendmessage,
            "/whoami": chat.whoami,
            "/disconnect": chat.disconnect,
        }.get(self.path.split("?", 1)[0])
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if route is None:
            self.reply(404, {"message": f"no route {self.path}"})
            return
        connection = self.headers.get("x-connection-id", "")
        principal = self.headers.get("x-principal-id") or "anonymous"
        try:
            status, answer = route(connection, principal, body)
        except ValueError as e:  # a context that is not JSON
            log(f"{self.path} {connection}: bad request: {e}")
            status, answer = 400, {"message": str(e)}
        self.reply(status, answer)

    def reply(self, status, answer):
        data = b"" if answer is None else compact(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # one line per event is logged by `Chat` instead


def main():
    parser = argparse.ArgumentParser(description="Chat backend for Tollgate's websocket-chat example.")
    parser.add_argument("--port", type=int, default=9000, help="port on 127.0.0.1; 0 picks a free one (default 9000)")
    parser.add_argument("--admin", default="http://127.0.0.1:9901", help="the gateway's admin API")
    parser.add_argument(
        "--token",
        default=os.environ.get("TOLLGATE_ADMIN_TOKEN", "change-me-chat-admin-token"),
        help="the admin API's token (default: $TOLLGATE_ADMIN_TOKEN, else change-me-chat-admin-token)",
    )
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.chat = Chat(args.admin, args.token)
    log(f"listening on 127.0.0.1:{server.server_address[1]}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
