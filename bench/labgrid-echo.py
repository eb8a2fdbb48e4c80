"""labgrid 0.4.1 (QEMUDriver + ShellDriver) on the same guest image, for bench/channels.mjs.

Usage: python3 bench/labgrid-echo.py QEMU-JSON ROUNDS
QEMU-JSON: {"qemu": path, "kernel": path, "initrd": path, "append": str, "machine": str, "memory": str}
Prints one JSON line: {"median": ms, "min": ms, "max": ms, "bootMs": ms}.
"""
import json
import os
import statistics
import sys
import tempfile
import time

from labgrid import Environment

spec = json.loads(sys.argv[1])
rounds = int(sys.argv[2])
workdir = tempfile.mkdtemp(prefix="vq-labgrid-")
config = {
    "targets": {
        "main": {
            "drivers": {
                "QEMUDriver": {
                    "qemu_bin": "qemu",
                    "machine": spec["machine"],
                    "cpu": "qemu64",
                    "memory": spec["memory"],
                    "kernel": "kernel",
                    "extra_args": f"-nodefaults -no-user-config -accel tcg,tb-size=32 -initrd {spec['initrd']}",
                    "boot_args": spec["append"],
                },
                "ShellDriver": {
                    "prompt": r"[\w-]+:[^ ]*# ",
                    "login_prompt": "login: ",
                    "username": "root",
                    "login_timeout": 120,
                },
            }
        }
    },
    "tools": {"qemu": spec["qemu"]},
    "images": {"kernel": spec["kernel"]},
}
path = os.path.join(workdir, "env.yaml")
with open(path, "w") as file:
    json.dump(config, file)  # YAML is a superset of JSON
env = Environment(path)
target = env.get_target("main")
started = time.monotonic()
qemu = target.get_driver("QEMUDriver")
target.activate(qemu)
qemu.on()
shell = target.get_driver("ShellDriver")
boot_ms = (time.monotonic() - started) * 1000
try:
    shell.run_check("echo ok")  # warm-up
    times = []
    for _ in range(rounds):
        t = time.monotonic()
        out = shell.run_check("echo ok")
        times.append((time.monotonic() - t) * 1000)
        if out != ["ok"]:
            raise SystemExit(f"unexpected output {out!r}")
    print(json.dumps({"median": statistics.median(times), "min": min(times), "max": max(times), "bootMs": boot_ms}))
finally:
    target.deactivate(qemu)
