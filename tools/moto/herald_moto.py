"""moto_server, with DynamoDB's atomicity.

DynamoDB applies each request to an item atomically: of two conditional
writes racing on one item, exactly one sees the condition hold. moto's server
answers requests on many threads and its DynamoDB backend takes no lock, so
both can pass. Herald's claims (one attempt, one resend, one event) rest on
that guarantee, and its tests race copies on purpose, so the local stack
serialises DynamoDB requests here. SQS requests are left concurrent: a
long-poll ReceiveMessage must not hold up everything else, and SQS promises
only at-least-once delivery anyway.

SQS FIFO deduplication is made to hold as SQS documents it: a message sent
with a deduplication id already accepted in the last five minutes is
accepted and dropped, whether or not the first copy was received and
deleted meanwhile. moto compares only with the messages still in the queue,
so a send the SDK repeats after a lost answer, once the first copy was
processed, would come through twice; Herald's first attempts rely on SQS
not doing that.

Connections are kept alive, as AWS keeps them. moto's server (werkzeug's
development server) closes each connection after one request, which made
every call of the local stack, and of `make cost`'s CPU figures, pay a TCP
connect and close that a deployed function never pays (about 0.4 ms of the
client's CPU per call). The same application is served by waitress instead,
which speaks HTTP/1.1 with keep-alive, on enough threads for the long polls
of the SQS pollers.

Run as moto_server is run: python herald_moto.py -H 127.0.0.1 -p 4566
"""

import threading
import time

import waitress
from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.sqs import models as sqs_models

_dynamodb = threading.Lock()


class _SerialDynamoDB(DomainDispatcherApplication):
    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with _dynamodb:
                # The Flask view runs, and changes the backend, inside this
                # call; the body it returns is already rendered.
                return super().__call__(environ, start_response)
        return super().__call__(environ, start_response)


server.DomainDispatcherApplication = _SerialDynamoDB


def _serve(host, port, app, **_werkzeug_options):
    # Each long-poll ReceiveMessage holds a thread for up to 20 s.
    waitress.serve(app, host=host, port=port, threads=64, connection_limit=4000,
                   asyncore_use_poll=True, ident="herald-moto", _quiet=True)


server.run_simple = _serve

_DEDUPLICATION_SECONDS = 300
_dedup_lock = threading.Lock()
_moto_add_message = sqs_models.Queue.add_message


def _add_message(queue, message):
    if queue.fifo_queue and message.deduplication_id:
        now = time.monotonic()
        with _dedup_lock:
            seen = queue.__dict__.setdefault("_herald_dedup", {})
            for key in [k for k, at in seen.items() if now - at >= _DEDUPLICATION_SECONDS]:
                del seen[key]
            if message.deduplication_id in seen:
                return
            seen[message.deduplication_id] = now
    _moto_add_message(queue, message)


sqs_models.Queue.add_message = _add_message

if __name__ == "__main__":
    server.main()
