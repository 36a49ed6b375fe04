#!/usr/bin/env python3
"""A small HTTP/1.1 reverse proxy for the `images push` tests: it sits in
front of a real docker-registry and misbehaves the way proxies in front of
Harbor do. Prints its port on the first stdout line.

    fault_proxy.py --upstream 127.0.0.1:5000 --log LOG
                   [--max-body BYTES]        # 413 for larger request bodies
                   [--fail METHOD:N:KIND ...] # fail the first N METHOD requests

--max-body: like nginx's client_max_body_size: a request whose
Content-Length is larger gets `413 Request Entity Too Large` without being
forwarded; the body is read and dropped first (nginx's lingering close), then
the connection is closed.
--fail: KIND is a status code (503, 502...) or `reset` (the connection is
reset without an answer: SO_LINGER 0). METHOD may be `*`. Failed requests are
never forwarded, so the registry does not see them.

Every request is appended to LOG as one JSON line: method, path, length
(Content-Length or null), action ("forwarded", "413", "503", "reset") and
status (the registry's, when forwarded).
"""
import argparse
import asyncio
import json
import socket
import struct
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--upstream", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--max-body", type=int, default=None)
ap.add_argument("--fail", action="append", default=[])
args = ap.parse_args()

up_host, up_port = args.upstream.rsplit(":", 1)
up_port = int(up_port)
fails = []  # [method, remaining, kind]
for spec in args.fail:
    method, n, kind = spec.split(":")
    fails.append([method.upper(), int(n), kind])
log = open(args.log, "a", buffering=1)


def record(**kw):
    log.write(json.dumps(kw) + "\n")


async def read_head(reader):
    """Request or status line and headers (list of (name, value)), or None at EOF."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    first = lines[0]
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return first, headers


def header(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


async def read_body(reader, headers):
    length = header(headers, "content-length")
    if length is not None:
        return await reader.readexactly(int(length))
    if (header(headers, "transfer-encoding") or "").lower() == "chunked":
        out = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return out
            out += await reader.readexactly(size)
            await reader.readexactly(2)
    return b""


def reset(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def forward(method, target, headers, body):
    """Send one request upstream (its own connection); return status line, headers, body."""
    r, w = await asyncio.open_connection(up_host, up_port)
    out = [f"{method} {target} HTTP/1.1"]
    for k, v in headers:
        if k.lower() in ("connection", "keep-alive", "transfer-encoding", "content-length"):
            continue
        out.append(f"{k}: {v}")
    if body or method in ("PUT", "POST", "PATCH"):
        out.append(f"Content-Length: {len(body)}")
    out.append("Connection: close")
    w.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + body)
    await w.drain()
    status_line, rheaders = await read_head(r)
    if method == "HEAD":
        rbody = b""
    elif header(rheaders, "content-length") is not None or (
        header(rheaders, "transfer-encoding") or ""
    ).lower() == "chunked":
        rbody = await read_body(r, rheaders)
    else:
        rbody = await r.read()
    w.close()
    return status_line, rheaders, rbody


async def handle(reader, writer):
    try:
        while True:
            head = await read_head(reader)
            if head is None:
                break
            first, headers = head
            method, target, _ = first.split(" ", 2)
            length = header(headers, "content-length")
            length = int(length) if length is not None else None
            path = target.split("?", 1)[0]
            fail = next((f for f in fails if f[1] > 0 and f[0] in ("*", method)), None)
            if fail is not None:
                fail[1] -= 1
                kind = fail[2]
                record(method=method, path=path, length=length, action=kind, status=None)
                if kind == "reset":
                    reset(writer)
                    return
                await read_body(reader, headers)
                msg = b"<html><body>upstream unavailable</body></html>"
                writer.write(
                    f"HTTP/1.1 {kind} Service Unavailable\r\nContent-Type: text/html\r\n"
                    f"Content-Length: {len(msg)}\r\n\r\n".encode() + msg
                )
                await writer.drain()
                continue
            if args.max_body is not None and length is not None and length > args.max_body:
                record(method=method, path=path, length=length, action="413", status=413)
                msg = b"<html><head><title>413 Request Entity Too Large</title></head></html>"
                writer.write(
                    b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/html\r\n"
                    + f"Content-Length: {len(msg)}\r\nConnection: close\r\n\r\n".encode()
                    + msg
                )
                await writer.drain()
                try:
                    await asyncio.wait_for(reader.readexactly(length), 10)
                except Exception:
                    pass
                writer.close()
                return
            body = await read_body(reader, headers)
            status_line, rheaders, rbody = await forward(method, target, headers, body)
            status = int(status_line.split(" ")[1])
            record(method=method, path=path, length=length, action="forwarded", status=status)
            out = [status_line]
            for k, v in rheaders:
                if k.lower() in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                    if not (k.lower() == "content-length" and method == "HEAD"):
                        continue
                out.append(f"{k}: {v}")
            if method != "HEAD":
                out.append(f"Content-Length: {len(rbody)}")
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + rbody)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        if not writer.transport.is_closing():
            writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
