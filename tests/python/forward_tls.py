#!/usr/bin/env python3
"""Sends one Forward frame over TLS (Python's ssl, i.e. OpenSSL) and prints the reply as hex.

usage: forward_tls.py HOST PORT CA_FILE FRAME_HEX REPLY_LEN
The server certificate is verified against CA_FILE for HOST.
"""
import socket
import ssl
import sys

host, port, cafile, frame_hex, reply_len = sys.argv[1:6]
context = ssl.create_default_context(cafile=cafile)
with socket.create_connection((host, int(port)), timeout=10) as raw:
    with context.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(bytes.fromhex(frame_hex))
        reply = b""
        while len(reply) < int(reply_len):
            chunk = tls.recv(int(reply_len) - len(reply))
            if not chunk:
                break
            reply += chunk
        print(tls.version(), reply.hex())
