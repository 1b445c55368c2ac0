"""The dev overlay's NATS as Kubernetes would run it, on this machine, with the real nats-server.

Usage: check-dev-overlay.py RENDERED_DEV_YAML NATS_SERVER

From the rendered overlay (`kubectl kustomize deploy/k8s/overlays/dev`) it takes the NATS
StatefulSet's container (args, environment with every `secretKeyRef` resolved from the rendered
Secrets) and the mounted `nats-config` ConfigMap, and starts nats-server so. Then every container
that connects to NATS (each Deployment's, the intake's provisioning init container) connects with
the user and password its own Secret gives it: each must be admitted, and the same user with a
wrong password refused. So a Secret, the server's environment and nats-server.conf cannot drift
apart without this failing (the suite's `permissions::` checks what each user may do once in).
"""

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import yaml


def main() -> None:
    rendered, nats_server = sys.argv[1], sys.argv[2]
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    secrets = {
        d["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in d.get("data", {}).items()}
        for d in docs
        if d["kind"] == "Secret"
    }
    config_maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}

    def value_of(env: dict, who: str):
        """An env entry's value, its secretKeyRef resolved; None for an optional one absent."""
        if "value" in env:
            return env["value"]
        ref = env["valueFrom"]["secretKeyRef"]
        secret = secrets.get(ref["name"])
        if secret is None or ref["key"] not in secret:
            assert ref.get("optional"), f"{who}: {env['name']} names {ref['name']}/{ref['key']}, which the overlay lacks"
            return None
        return secret[ref["key"]]

    nats = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "nats")
    pod = nats["spec"]["template"]["spec"]
    container = pod["containers"][0]
    environment = {e["name"]: value_of(e, "nats") for e in container.get("env", [])}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
    volume = next(v for v in pod["volumes"] if v["name"] == "config")
    config = config_maps[volume["configMap"]["name"]]

    with tempfile.TemporaryDirectory() as scratch:
        # The mounted ConfigMap at a path of its own, and the volume's /data here.
        for key, text in config.items():
            open(os.path.join(scratch, key), "w").write(text)
        args = [a.replace(mount["mountPath"], scratch) for a in container["args"]]
        assert environment.get("SANDPIPER_NATS_STORE_DIR") == "/data", environment
        environment["SANDPIPER_NATS_STORE_DIR"] = os.path.join(scratch, "data")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        # The monitoring port is the probes' business, not this check's: not opened here.
        if "--http_port" in args:
            at = args.index("--http_port")
            del args[at : at + 2]
        # Its log to a file, not a pipe nobody reads while it runs (a full pipe would stall it).
        log = open(os.path.join(scratch, "nats-server.log"), "w+")
        server = subprocess.Popen(
            [nats_server, *args, "-a", "127.0.0.1", "-p", str(port)],
            env={"PATH": os.environ.get("PATH", "")} | environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            wait_listening(port, server, log)
            checked = []
            for d in docs:
                if d["kind"] != "Deployment":
                    continue
                spec = d["spec"]["template"]["spec"]
                for c in spec.get("initContainers", []) + spec["containers"]:
                    who = f"{d['metadata']['name']}/{c['name']}"
                    env = {e["name"]: value_of(e, who) for e in c.get("env", [])}
                    user, password = env.get("SANDPIPER_NATS_USER"), env.get("SANDPIPER_NATS_PASSWORD")
                    assert user and password, f"{who}: no NATS user in the dev overlay"
                    own = "provision" if c["name"] == "provision" else d["metadata"]["name"].removeprefix("sandpiper-")
                    assert user == own, f"{who}: connects as {user}, not as its own user {own}"
                    answer = connect(port, user, password)
                    assert answer == "PONG", f"{who}: NATS refuses {user} with its Secret's password: {answer}"
                    wrong = connect(port, user, password + "-wrong")
                    assert wrong.startswith("-ERR"), f"{who}: NATS admits {user} with a wrong password: {wrong}"
                    checked.append(f"{who} as {user}")
            assert len(checked) >= 6, checked
        finally:
            server.terminate()
            server.wait(timeout=10)
            log.close()
    print(
        "validate-deploy: dev: nats-server runs the overlay's nats.conf with its Secrets; "
        f"{len(checked)} containers connect as their own users ({', '.join(checked)}), none with a wrong password"
    )


def wait_listening(port: int, server: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            sys.exit(f"validate-deploy: nats-server will not start with the dev overlay:\n{log.read()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("validate-deploy: nats-server did not listen within 20 s")


def connect(port: int, user: str, password: str) -> str:
    """The server's answer to CONNECT with these credentials and a PING: PONG or -ERR ...."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        reader = conn.makefile("r", encoding="utf-8", newline="\r\n")
        info = reader.readline()
        assert info.startswith("INFO "), info
        assert json.loads(info[5:]).get("auth_required"), "the dev NATS requires no authentication"
        options = {"user": user, "pass": password, "verbose": False, "pedantic": False, "protocol": 1}
        conn.sendall(f"CONNECT {json.dumps(options)}\r\nPING\r\n".encode())
        while True:
            line = reader.readline().strip()
            if line == "PONG" or line.startswith("-ERR") or not line:
                return line


if __name__ == "__main__":
    main()
