"""moto_server, with DynamoDB's atomicity.

DynamoDB applies each request to an item atomically: of two conditional
writes racing on one item, exactly one sees the condition hold. moto's server
answers requests on many threads and its DynamoDB backend takes no lock, so
both can pass. Herald's claims (one attempt, one resend, one event) rest on
that guarantee, and its tests race copies on purpose, so the local stack
serialises DynamoDB requests here. SQS requests are left concurrent: a
long-poll ReceiveMessage must not hold up everything else, and SQS promises
only at-least-once delivery anyway.

Run as moto_server is run: python herald_moto.py -H 127.0.0.1 -p 4566
"""

import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

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

if __name__ == "__main__":
    server.main()
