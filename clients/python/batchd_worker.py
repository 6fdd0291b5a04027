"""The program side of batchd's chunk stream (docs/command.md, "Chunk streaming"), numpy only.

A `command` job with a "source" runs your program once per session and streams it the
session's chunks on stdin; the program answers each one, in order, on stdout:

    import batchd_worker

    w = batchd_worker.Worker()
    for key, chunk in w:                       # chunk: an ndarray, edge chunks without padding
        w.send_result(key, {"sum": float(chunk.sum())})

or, with a "sink" in the job, an output chunk of the same shape:

    for key, chunk in w:
        w.send_chunk(key, chunk - chunk.mean())

Every chunk must be answered (send_result, send_chunk, skip or send_error) before the next
one is read; the loop ends when batchd says the stream is over. Write nothing else to stdout
(print to stderr: it goes to the session's log).
"""

import json
import sys

import numpy as np

__all__ = ["Worker", "ProtocolError"]

# batchd refuses answer lines longer than this (their '\n' included).
MAX_ANSWER_LINE = 64 << 10
# A header line from batchd is far shorter; anything longer is not the stream.
MAX_HEADER_LINE = 64 << 10


class ProtocolError(RuntimeError):
    """The bytes on stdin are not batchd's chunk stream, or an answer was misused."""


class Worker:
    """Iterates (key, ndarray) over the session's chunks and sends the answers back.

    Attributes once constructed: `array` (the source's "shape", "chunks", "dtype"), `sink`
    (the sink's "dtype" and "fill_value", or None), and per chunk `header` (its "key",
    "coords", "shape", "dtype", "bytes", "missing").
    """

    def __init__(self, stdin=None, stdout=None):
        self._in = stdin if stdin is not None else sys.stdin.buffer
        self._out = stdout if stdout is not None else sys.stdout.buffer
        hello = self._read_line()
        if not isinstance(hello, dict) or hello.get("batchd") != "chunks":
            raise ProtocolError("stdin does not start with batchd's chunk stream hello line")
        if hello.get("version") != 1:
            raise ProtocolError("unknown chunk stream version %r" % hello.get("version"))
        self.array = hello.get("array") or {}
        self.sink = hello.get("sink")
        self.header = None
        self._unanswered = None

    def _read_line(self):
        line = self._in.readline(MAX_HEADER_LINE + 1)
        if not line:
            raise ProtocolError("stdin ended before batchd's end line")
        if not line.endswith(b"\n"):
            raise ProtocolError("a header line from batchd is cut short or too long")
        return json.loads(line)

    def _read_exactly(self, n):
        # An unbuffered stdin may return less than asked for.
        parts, got = [], 0
        while got < n:
            data = self._in.read(n - got)
            if not data:
                raise ProtocolError("stdin ended inside a chunk")
            parts.append(data)
            got += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def __iter__(self):
        while True:
            if self._unanswered is not None:
                raise ProtocolError("chunk %s was not answered" % self._unanswered)
            header = self._read_line()
            if header.get("end"):
                return
            data = self._read_exactly(int(header["bytes"]))
            chunk = np.frombuffer(data, dtype=np.dtype(header["dtype"])).reshape(header["shape"])
            self.header = header
            self._unanswered = header["key"]
            yield header["key"], chunk

    def _answer(self, key, line, payload=None):
        if key != self._unanswered:
            raise ProtocolError("answering %r, but the chunk waiting is %r" % (key, self._unanswered))
        text = (json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n").encode()
        if len(text) > MAX_ANSWER_LINE:
            raise ProtocolError("the answer line for %s is longer than %d bytes" % (key, MAX_ANSWER_LINE))
        self._out.write(text)
        if payload is not None:
            self._out.write(payload)
        # batchd waits for each answer before it sends more than its byte budget: never hold one.
        self._out.flush()
        self._unanswered = None

    def send_result(self, key, result):
        """Answers `key` with a dict of numbers, folded by the job's "reduce" (default sum)."""
        self._answer(key, {"key": key, "result": dict(result)})

    def send_chunk(self, key, array, result=None):
        """Answers `key` with an output chunk of the input's shape, written to the sink."""
        if self.sink is None:
            raise ProtocolError("the job has no sink to send chunks to")
        out = np.ascontiguousarray(array, dtype=np.dtype(self.sink["dtype"]))
        if list(out.shape) != list(self.header["shape"]):
            raise ProtocolError(
                "the output chunk for %s has shape %s; the input had %s"
                % (key, list(out.shape), self.header["shape"])
            )
        line = {"key": key, "bytes": out.nbytes}
        if result:
            line["result"] = dict(result)
        self._answer(key, line, memoryview(out).cast("B"))

    def skip(self, key, result=None):
        """Answers `key` with no output chunk (the sink keeps its fill value there)."""
        line = {"key": key, "skip": True}
        if result:
            line["result"] = dict(result)
        self._answer(key, line)

    def send_error(self, key, message):
        """Fails the session at `key` with `message`."""
        self._answer(key, {"key": key, "error": str(message)})
