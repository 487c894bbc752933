"""One question to a DPDK process's telemetry socket (SOCK_SEQPACKET, as
dpdk-telemetry.py asks): the answer's value for the command."""
import json
import socket


def ask(path, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    s.recv(4096)
    s.send(cmd.encode())
    out = json.loads(s.recv(1 << 20).decode())
    s.close()
    return out[cmd.split(",")[0]]
