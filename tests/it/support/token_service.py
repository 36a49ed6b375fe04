#!/usr/bin/env python3
"""A Docker-token-spec token service for tests (what Harbor / ACR / SWR run
next to the registry). Issues RS256 JWTs that docker-registry's `auth: token`
accepts; signs with `openssl dgst` so it needs nothing beyond Python and
openssl. Prints its port on the first stdout line.

users.json: {"USER": {"password": "...", "access": {"REPO-GLOB": ["pull", "push"]}},
             "": {"access": {...}}}          # "" = anonymous
Requests are appended to LOG (one JSON object per line: user, scope, status).
"""
import argparse, base64, fnmatch, json, subprocess, sys, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

ap = argparse.ArgumentParser()
ap.add_argument("--key", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--users", required=True)
ap.add_argument("--issuer", default="test-issuer")
ap.add_argument("--service", default="harbor-registry")
ap.add_argument("--log", required=True)
ap.add_argument("--expires", type=int, default=300)
args = ap.parse_args()

users = json.load(open(args.users))
der = subprocess.run(["openssl", "x509", "-in", args.cert, "-outform", "DER"],
                     check=True, capture_output=True).stdout
x5c = base64.b64encode(der).decode()


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [x5c]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", args.key],
                         input=signing_input.encode(), check=True, capture_output=True).stdout
    return signing_input + "." + b64url(sig)


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        user = ""
        auth = self.headers.get("Authorization", "")
        entry = users.get("")
        if auth.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                user, password = "?", None
            entry = users.get(user)
            if entry is None or entry.get("password") != password:
                self.log(user, q, 401)
                return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid username/password"}]})
        if entry is None:
            self.log(user, q, 401)
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "anonymous access denied"}]})
        access = []
        for scope in q.get("scope", []):
            for one in scope.split(" "):
                parts = one.split(":")
                if len(parts) < 3 or parts[0] != "repository":
                    continue
                name, wanted = ":".join(parts[1:-1]), parts[-1].split(",")
                allowed = set()
                for glob, acts in entry.get("access", {}).items():
                    if fnmatch.fnmatchcase(name, glob):
                        allowed.update(acts)
                granted = [a for a in wanted if a in allowed]
                access.append({"type": "repository", "name": name, "actions": granted})
        now = int(time.time())
        claims = {"iss": args.issuer, "sub": user, "aud": q.get("service", [args.service])[0],
                  "exp": now + args.expires, "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex,
                  "access": access}
        token = sign(claims)
        self.log(user, q, 200)
        self.reply(200, {"token": token, "access_token": token, "expires_in": args.expires,
                         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})

    def log(self, user, q, status):
        with open(args.log, "a") as f:
            f.write(json.dumps({"user": user, "scope": q.get("scope", []),
                                "service": q.get("service", []), "status": status}) + "\n")


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
