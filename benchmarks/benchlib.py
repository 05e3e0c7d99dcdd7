"""Helpers shared by the Python benchmark drivers in this folder."""
import random
import socket


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1, below Linux's ephemeral range."""
    held = []
    while len(held) < n:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", random.randrange(20000, 32768)))
            held.append(s)
        except OSError:
            s.close()
    ports = [s.getsockname()[1] for s in held]
    for s in held:
        s.close()
    return ports
