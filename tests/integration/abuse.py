#!/usr/bin/env python3
"""abuse.py SOCKET: 100 concurrent clients send garbage, oversized and
truncated messages to sluiced, plus one client that never reads its
replies. Every bad message must get a JSON error naming what was wrong, and
each connection must stay usable for a valid request afterwards."""
import json
import socket
import sys
import threading

SOCK = sys.argv[1]
errors = []


def recv_line(f):
    line = f.readline()
    if not line:
        raise RuntimeError("connection closed")
    return json.loads(line)


def expect_error(f, code, field="__any__"):
    r = recv_line(f)
    if r.get("ok") is not False or r["error"]["code"] != code:
        raise RuntimeError(f"wanted error {code}, got {r}")
    if field != "__any__" and r["error"]["field"] != field:
        raise RuntimeError(f"wanted field {field}, got {r}")


def client(n):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(20)
        s.connect(SOCK)
        f = s.makefile("rw", encoding="utf-8", newline="\n")
        kind = n % 5
        if kind == 0:
            f.write("this is not json\n")
            f.flush()
            expect_error(f, "parse_error", None)
        elif kind == 1:
            f.write('{"cmd": "status", "pad": "' + "x" * ((2 << 20) + 10) + '"}\n')
            f.flush()
            expect_error(f, "too_large", None)
        elif kind == 2:
            f.write('{"cmd": "sta\n')
            f.flush()
            expect_error(f, "parse_error", None)
        elif kind == 3:
            f.write('{"cmd": "map_set", "cluster": 7, "core": "x"}\n')
            f.flush()
            expect_error(f, "bad_field", "cluster")
            f.write('{"cmd": "map_set", "cluster": "egress", "core": -4}\n')
            f.flush()
            expect_error(f, "bad_field", "core")
            f.write('{"cmd": "no_such_command"}\n[1, 2]\n{"id": 3}\n')
            f.flush()
            expect_error(f, "unknown_command", "cmd")
            expect_error(f, "parse_error", None)
            expect_error(f, "missing_field", "cmd")
        else:
            f.write('{"cmd": "counters", "kind": "bogus", "id": "q"}\n')
            f.flush()
            r = recv_line(f)
            if r["id"] != "q" or r["error"]["field"] != "kind":
                raise RuntimeError(f"bad kind reply {r}")
        # The connection is still usable.
        f.write(json.dumps({"cmd": "status", "id": n}) + "\n")
        f.flush()
        r = recv_line(f)
        if not r.get("ok") or r["id"] != n:
            raise RuntimeError(f"status after abuse failed: {r}")
        # A truncated message with no newline, then a hang-up.
        f.write('{"cmd": "graph_sh')
        f.flush()
        s.close()
    except Exception as e:  # noqa: BLE001 - report every failure
        errors.append(f"client {n}: {e}")


# One client that asks for a lot and never reads: sluiced must not block on it.
stuck = socket.socket(socket.AF_UNIX)
stuck.connect(SOCK)
stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
stuck.sendall(b'{"cmd": "graph_show", "dot": true}\n' * 2000)

threads = [threading.Thread(target=client, args=(n,)) for n in range(100)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
stuck.close()
if errors:
    print("\n".join(errors[:10]))
    sys.exit(f"FAIL: {len(errors)} of 100 clients saw a wrong reply")
print("ok: 100 abusive clients each got precise errors and kept a usable connection")
