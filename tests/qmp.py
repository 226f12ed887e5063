"""A minimal QMP client over a unix socket, shared by the QEMU-driving
suites (qemu/tcg-ap/tests/test_tcg_ap.py, tests/apbus/test_apbus.py).

Qmp(path, connect_s=20): connect (QEMU may still be starting: retry for
up to connect_s seconds), read the greeting, negotiate capabilities.
cmd() returns "return" or raises RuntimeError naming the command and
QEMU's error; raw() returns the whole reply; queues() is query-ap-queues
(the TCG AP emulation's per-queue counters) keyed by APQN. Asynchronous
events are skipped.
"""

import json
import socket
import time


class Qmp:
    def __init__(self, path, connect_s=20):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        end = time.time() + connect_s
        while True:
            try:
                self.sock.connect(path)
                break
            except OSError as e:
                if time.time() >= end:
                    raise RuntimeError(f"cannot connect to QMP at {path}: "
                                       f"{e}") from e
                time.sleep(0.05)
        self.f = self.sock.makefile("rw")
        self._read()
        self.cmd("qmp_capabilities")

    def _read(self):
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("QMP closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def raw(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        return self._read()

    def cmd(self, name, **args):
        r = self.raw(name, **args)
        if "error" in r:
            raise RuntimeError(f"{name}: {r['error']['desc']}")
        return r["return"]

    def queues(self):
        return {q["apqn"]: q for q in self.cmd("query-ap-queues")}
