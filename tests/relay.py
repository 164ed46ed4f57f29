"""A TCP relay to Redis that tests switch between black hole and relay.

As a black hole it accepts connections and never answers (a hung Redis or a
dropped network); as a relay it forwards to the real Redis.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class Relay:
    """A TCP port that either swallows everything (``hole``) or relays to ``target``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.hole = True
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                self.open.append(client)
                hole = self.hole
            if hole:
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
            else:
                upstream = socket.create_connection(self.target)
                with self.lock:
                    self.open.append(upstream)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _swallow(client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while client.recv(65536):
                pass

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def relay(self) -> None:
        """From now on relay, and drop every swallowing connection."""
        with self.lock:
            self.hole = False
            dropped, self.open = self.open, []
        for conn in dropped:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        self.server.close()
        self.relay()
