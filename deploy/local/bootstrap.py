#!/usr/bin/env python3
"""Makes the development account of a local Vigil through its API, once, and prints it as
shell variables for run.sh.

On the first run: signs up the instance admin (a generated password), creates the project
"Development", an ingestion key, a heartbeat monitor and a server monitor, and keeps them in
STATE (mode 600). Later runs reuse STATE after checking that its login still works.

    bootstrap.py API_BASE STATE
"""

import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from http.cookiejar import CookieJar, DefaultCookiePolicy

EMAIL = "admin@vigil.localhost"


class LoopbackPolicy(DefaultCookiePolicy):
    """Sends the session cookie back even when it is marked Secure (run.sh --tls: nginx in
    front serves TLS) — this script talks to the control plane directly on loopback."""

    def return_ok_secure(self, cookie, request):
        return True


class Api:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.cookies = CookieJar(LoopbackPolicy())
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.csrf = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        if self.csrf:
            request.add_header("x-csrf-token", self.csrf)
        try:
            with self.opener.open(request, timeout=30) as response:
                text = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            status = error.code
        return status, (json.loads(text) if text else None)

    def must(self, method, path, body=None):
        status, answer = self.call(method, path, body)
        if status >= 300:
            sys.exit(f"bootstrap: {method} {path} answered {status}: {answer}")
        return answer

    def login(self, email, password):
        status, answer = self.call("POST", "/api/v1/auth/login", {"email": email, "password": password})
        if status == 200:
            self.csrf = answer["csrf_token"]
        return status == 200


def create(api, state_path):
    password = secrets.token_urlsafe(18)
    status, answer = api.call(
        "POST", "/api/v1/auth/signup", {"email": EMAIL, "name": "Admin", "password": password}
    )
    if status == 403:
        sys.exit(
            "bootstrap: this instance already has an admin, but its development account file "
            f"{state_path} is gone; delete .vigil/stack to start afresh, or sign in as that admin"
        )
    if status != 201:
        sys.exit(f"bootstrap: sign-up answered {status}: {answer}")
    if not api.login(EMAIL, password):
        sys.exit("bootstrap: cannot sign in with the new account")
    project = api.must("POST", "/api/v1/projects", {"name": "Development"})["id"]
    base = f"/api/v1/projects/{project}"
    token = api.must("POST", f"{base}/ingestion-keys", {"name": "development"})["secret"]
    beat = api.must("POST", f"{base}/monitors", {"name": "heartbeat-1", "kind": "heartbeat"})
    server = api.must("POST", f"{base}/monitors", {"name": "server-1", "kind": "server"})
    return {
        "email": EMAIL,
        "password": password,
        "project_id": project,
        "ingestion_key": token,
        "heartbeat_key": beat["key"],
        "agent_key": server["key"],
    }


def main():
    base, state_path = sys.argv[1], sys.argv[2]
    api = Api(base)
    try:
        with open(state_path) as f:
            state = json.load(f)
    except FileNotFoundError:
        state = None
    if state is not None and not api.login(state["email"], state["password"]):
        sys.exit(f"bootstrap: the account in {state_path} cannot sign in any more")
    if state is None:
        state = create(api, state_path)
        fd = os.open(state_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(state, f, indent=2)
    for name, value in state.items():
        print(f"dev_{name}='{value}'")


if __name__ == "__main__":
    main()
