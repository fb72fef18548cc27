"""A TCP proxy in front of PostgreSQL that counts what clients send.

pg_stat_statements needs a server restart to load (`shared_preload_libraries`), and
logging every statement means changing the server's settings, so the benchmark
counts statements on the wire instead: a server under test connects through this
proxy, which forwards every byte unchanged and reads the client's side of the
protocol (simple `Query`, and `Parse`/`Bind`/`Execute`/`Sync` of the extended one).
SSL is refused, so that the stream stays readable (PostgreSQL on loopback here has
none anyway).
"""

import asyncio
import struct
import threading
from dataclasses import dataclass, field

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


@dataclass
class Tally:
    """What clients sent since the last reset."""

    executed: list[str] = field(default_factory=list)  # SQL of each statement run
    round_trips: int = 0  # Sync or simple Query messages: each waits for ReadyForQuery
    prepares: int = 0  # Parse messages (statements prepared, not run)


class _Connection:
    """The client side of one proxied connection, parsed message by message."""

    def __init__(self, tally: Tally, lock: threading.Lock) -> None:
        self.tally, self.lock = tally, lock
        self.buffer = b""
        self.started = False
        self.statements: dict[str, str] = {}  # prepared statement name -> SQL
        self.portals: dict[str, str] = {}  # portal name -> SQL

    def feed(self, data: bytes) -> bytes | None:
        """Take client bytes; return a reply the proxy sends itself (SSL refusal)."""
        self.buffer += data
        reply = None
        while True:
            if not self.started:
                if len(self.buffer) < 8:
                    return reply
                length, code = struct.unpack("!ii", self.buffer[:8])
                if len(self.buffer) < length:
                    return reply
                self.buffer = self.buffer[length:]
                if code in (SSL_REQUEST, GSSENC_REQUEST):
                    reply = b"N"
                else:
                    self.started = True
                continue
            if len(self.buffer) < 5:
                return reply
            kind = self.buffer[:1]
            (length,) = struct.unpack("!i", self.buffer[1:5])
            if len(self.buffer) < 1 + length:
                return reply
            payload, self.buffer = self.buffer[5 : 1 + length], self.buffer[1 + length :]
            self._message(kind, payload)

    def _message(self, kind: bytes, payload: bytes) -> None:
        strings = payload.split(b"\0")
        with self.lock:
            if kind == b"Q":
                self.tally.executed.append(strings[0].decode())
                self.tally.round_trips += 1
            elif kind == b"P":
                self.statements[strings[0].decode()] = strings[1].decode()
                self.tally.prepares += 1
            elif kind == b"B":
                self.portals[strings[0].decode()] = self.statements.get(strings[1].decode(), "?")
            elif kind == b"E":
                self.tally.executed.append(self.portals.get(strings[0].decode(), "?"))
            elif kind == b"S":
                self.tally.round_trips += 1


class CountingProxy:
    """Listen on `port`, forward to `upstream_host:upstream_port`, count in a `Tally`."""

    def __init__(self, port: int, upstream_host: str, upstream_port: int) -> None:
        self.port, self.upstream = port, (upstream_host, upstream_port)
        self.lock = threading.Lock()
        self.tally = Tally()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> None:
        """Start listening in a background thread."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        self._server = future.result(timeout=10)

    def stop(self) -> None:
        """Stop listening and end the background thread."""
        if self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def reset(self) -> Tally:
        """Start counting afresh; return what was counted until now."""
        with self.lock:
            tally, self.tally = self.tally, Tally()
            return tally

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        parser = _Connection(self.tally, self.lock)

        async def client_to_server() -> None:
            try:
                while data := await reader.read(65536):
                    parser.tally = self.tally  # counts go to the current tally
                    reply = parser.feed(data)
                    if reply is not None:  # an SSL request: answered here, not forwarded
                        writer.write(reply)
                        await writer.drain()
                        continue
                    up_writer.write(data)
                    await up_writer.drain()
            finally:
                up_writer.close()

        async def server_to_client() -> None:
            try:
                while data := await up_reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            finally:
                writer.close()

        await asyncio.gather(client_to_server(), server_to_client(), return_exceptions=True)
