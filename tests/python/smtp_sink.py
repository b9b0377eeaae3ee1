"""A local SMTP server (aiosmtpd) for the notification tests: prints each message it accepts
as one JSON line on stdout, and a first line {"ready": port} once it listens."""

import json
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    async def handle_DATA(self, server, session, envelope):
        print(json.dumps({
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "data": envelope.content.decode("utf-8", "replace"),
        }), flush=True)
        return "250 OK"


port = int(sys.argv[1])
controller = Controller(Sink(), hostname="127.0.0.1", port=port)
controller.start()
print(json.dumps({"ready": port}), flush=True)
threading.Event().wait()
