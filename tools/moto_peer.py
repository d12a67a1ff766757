"""The AWS emulator for engage's tests: moto's server on 127.0.0.1, plus one read-only
endpoint moto's server lacks, for what SES stored.

    python moto_peer.py --port P

- every AWS API moto emulates, at http://127.0.0.1:P (any region, any credentials);
- GET http://127.0.0.1:P/_engage/ses/messages: the messages SES accepted, as JSON
  [{"id", "source", "destinations", "raw"}], from moto's own backend (moto documents
  `sent_messages` as the way to see them; its server has no route for it);
- GET http://127.0.0.1:P/v2/email/account (SES v2 GetAccount, which moto's server
  answers 404): the account as a new SES account is, in the sandbox with its
  default quota (200 a day, 1 a second), sending enabled, and the messages sent so
  far counted from moto's backend.

DynamoDB requests are served one at a time. moto's server is threaded and its
DynamoDB backend does not lock, so two concurrent `UpdateItem ADD`s on one item could
both read the old value and one add be lost, where DynamoDB applies each atomically
(seen as a lost add in the LLM spend tally's concurrency test).

Runs until killed; engage's test handles start it under `timeout`.
"""

import argparse
import json
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.ses import ses_backends
from werkzeug.serving import run_simple
from werkzeug.wrappers import Request, Response


def ses_messages():
    out = []
    for account in ses_backends.values():
        for region, backend in account.items():
            for m in backend.sent_messages:
                raw = getattr(m, "raw_data", None)
                out.append({
                    "id": m.id,
                    "region": region,
                    "source": getattr(m, "source", None),
                    "destinations": getattr(m, "destinations", None),
                    "raw": raw,
                })
    return out


def ses_account():
    sent = len(ses_messages())
    return {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": False,
        "SendingEnabled": True,
        "SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": float(sent)},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    moto = DomainDispatcherApplication(create_backend_app)
    dynamodb = threading.Lock()

    def app(environ, start_response):
        request = Request(environ)
        if request.path == "/_engage/ses/messages":
            return Response(json.dumps(ses_messages()), mimetype="application/json")(environ, start_response)
        if request.path == "/v2/email/account" and request.method == "GET":
            return Response(json.dumps(ses_account()), mimetype="application/json")(environ, start_response)
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with dynamodb:
                # The body is built inside the lock: the write happens while it runs.
                return list(moto(environ, start_response))
        return moto(environ, start_response)

    run_simple("127.0.0.1", args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
