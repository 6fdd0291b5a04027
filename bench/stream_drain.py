#!/usr/bin/python3
"""The command benchmark's stream program: reads batchd's chunk stream from stdin and answers
each chunk with its key and nothing else (docs/command.md, "The wire format"), doing no work on
the bytes. Stdlib only, so its cost is the stream's: one header parse, one read into a reused
buffer and one small write per chunk."""
import json
import sys

inp = sys.stdin.buffer
out = sys.stdout.buffer
hello = json.loads(inp.readline())
if hello.get("batchd") != "chunks" or hello.get("version") != 1:
    sys.exit("not batchd's chunk stream")
buffer = bytearray(1 << 20)
while True:
    header = json.loads(inp.readline())
    if header.get("end"):
        break
    n = header["bytes"]
    if n > len(buffer):
        buffer = bytearray(n)
    view = memoryview(buffer)[:n]
    got = 0
    while got < n:
        r = inp.readinto(view[got:])
        if not r:
            sys.exit("stdin ended inside a chunk")
        got += r
    out.write(b'{"key":' + json.dumps(header["key"]).encode() + b"}\n")
    out.flush()
