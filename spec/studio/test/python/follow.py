"""Follows one Studio job the way Edge Impulse's Python SDK does: python-socketio 5
(Engine.IO v4: the server pings, the client answers) on the websocket transport, with
handlers for job-data-<id> and job-finished-<id>.

  python3 follow.py URL API_KEY PROJECT_ID JOB_ID [--on-demand] [--timeout S]

Without --on-demand the socket gets every job of the project (no onDemandLogs, no
start-log-stream); with it, it asks for the job with start-log-stream after the hello.
Prints one JSON object: connects, disconnects before the end, the text received, the job-finished
payload, the hello. Exits 1 when the job did not finish in time.
"""
import json
import sys
import threading
import urllib.request

import socketio


def socket_token(url, api_key, project_id):
    req = urllib.request.Request(f"{url}/v1/api/{project_id}/socket-token", headers={"x-api-key": api_key})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.load(res)["token"]["socketToken"]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    url, api_key, project_id, job_id = args[0], args[1], int(args[2]), int(args[3])
    on_demand = "--on-demand" in sys.argv
    timeout = float(sys.argv[sys.argv.index("--timeout") + 1]) if "--timeout" in sys.argv else 120.0
    seen = {"connects": 0, "disconnects": 0, "text": [], "finished": None, "hello": None}
    done = threading.Event()
    sio = socketio.Client(reconnection=False)

    @sio.event
    def connect():
        seen["connects"] += 1

    @sio.event
    def disconnect():
        seen["disconnects"] += 1

    @sio.on("hello")
    def hello(data):
        seen["hello"] = data
        if on_demand:
            sio.emit("start-log-stream", {"jobId": job_id, "lastReceivedTimestamp": 0})

    @sio.on(f"job-data-{job_id}")
    def job_data(data):
        seen["text"].append(data["data"])

    @sio.on(f"job-finished-{job_id}")
    def job_finished(data):
        seen["finished"] = data
        done.set()

    query = f"token={socket_token(url, api_key, project_id)}" + ("&onDemandLogs=true" if on_demand else "")
    sio.connect(f"{url}?{query}", transports=["websocket"])
    finished = done.wait(timeout)
    disconnects = seen["disconnects"]
    sio.disconnect()
    print(json.dumps({
        "connects": seen["connects"], "disconnects": disconnects,
        "text": "".join(seen["text"]), "finished": seen["finished"], "hello": seen["hello"],
    }))
    sys.exit(0 if finished else 1)


if __name__ == "__main__":
    main()
