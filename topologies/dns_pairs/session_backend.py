"""The application behind the LBs: POST /login makes a session and sets a cookie; GET /whoami
answers with the session's user, this backend's name and the LB that forwarded the request.
Sessions live in Redis (shared by every backend) or, for the negative control, in this
process only."""
import argparse
import json
import secrets
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

SESSION_TTL_S = 600


class LocalStore:
    def __init__(self):
        self.sessions = {}

    def put(self, sid, user):
        self.sessions[sid] = user

    def get(self, sid):
        return self.sessions.get(sid)


class RedisStore:
    def __init__(self, address):
        import redis
        host, port = address.rsplit(":", 1)
        self.client = redis.Redis(host=host, port=int(port), socket_timeout=2)

    def put(self, sid, user):
        self.client.set(f"session:{sid}", user, ex=SESSION_TTL_S)

    def get(self, sid):
        value = self.client.get(f"session:{sid}")
        return value.decode() if value else None


def handler(name, store):
    class Handler(BaseHTTPRequestHandler):
        def answer(self, status, payload, cookie=None):
            body = json.dumps(dict(payload, backend=name, lb=self.headers.get("X-LB", ""))).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if cookie:
                self.send_header("Set-Cookie", f"session={cookie}; Path=/; HttpOnly")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            if self.path != "/login":
                return self.answer(404, {"error": "no such path"})
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            user = form.get("user", [""])[0]
            if not user:
                return self.answer(400, {"error": "user missing"})
            sid = secrets.token_hex(16)
            store.put(sid, user)
            self.answer(200, {"user": user}, cookie=sid)

        def do_GET(self):
            if self.path == "/health":
                return self.answer(200, {})
            if self.path != "/whoami":
                return self.answer(404, {"error": "no such path"})
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
            sid = cookie["session"].value if "session" in cookie else ""
            user = store.get(sid) if sid else None
            if user is None:
                return self.answer(401, {"error": "no session"})
            self.answer(200, {"user": user})

        def log_message(self, fmt, *args):
            print(f"{self.address_string()} {fmt % args}", flush=True)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT")
    parser.add_argument("--name", required=True)
    parser.add_argument("--store", choices=["redis", "local"], default="redis")
    parser.add_argument("--redis", help="ADDRESS:PORT of the shared store")
    args = parser.parse_args()
    store = RedisStore(args.redis) if args.store == "redis" else LocalStore()
    host, port = args.listen.rsplit(":", 1)
    ThreadingHTTPServer((host, int(port)), handler(args.name, store)).serve_forever()


if __name__ == "__main__":
    main()
