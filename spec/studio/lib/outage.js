'use strict';
// The `unreachable` knob: closes the listening port (connections are refused, open ones
// cut) for a while, after a trigger: a time, a number of /v1 calls or of job-data frames.

class Outage {
  // server: the http.Server; tcp: its open sockets; port(): the port to listen on again;
  // onChange({down, seconds?}): told when the port closes and when it listens again.
  constructor({ server, tcp, port, log, onChange }) {
    Object.assign(this, { server, tcp, port, log });
    this.onChange = onChange || (() => {});
    this.down = false;
    this.armed = null;
    this.timer = null;
    this.stopped = false;
  }

  // Arms `knob` ({forSeconds, afterSeconds | afterRequests | afterFrames}) relative to
  // the current counters ({requests, dataFrames}).
  arm(knob, counters) {
    clearTimeout(this.armTimer);
    this.armed = null;
    if (!knob) return;
    this.armed = { forSeconds: knob.forSeconds };
    if (knob.afterRequests !== undefined) this.armed.requests = counters.requests + knob.afterRequests;
    else if (knob.afterFrames !== undefined) this.armed.frames = counters.dataFrames + knob.afterFrames;
    else this.armTimer = setTimeout(() => this.fire(), (knob.afterSeconds || 0) * 1000);
  }

  // True when the n-th /v1 call is the trigger (the outage starts once it is answered).
  isTriggerRequest(n) {
    return Boolean(this.armed && this.armed.requests === n);
  }

  onFrames(total) {
    if (this.armed && this.armed.frames !== undefined && total >= this.armed.frames) setImmediate(() => this.fire());
  }

  fire() {
    const armed = this.armed;
    if (!armed) return;
    this.armed = null;
    this.start(armed.forSeconds);
  }

  start(seconds) {
    if (this.down || this.stopped) return;
    this.down = true;
    this.log(`unreachable for ${seconds}s`);
    this.onChange({ down: true, seconds });
    this.server.close();
    for (const s of this.tcp) s.destroy();
    this.timer = setTimeout(() => this.relisten(), seconds * 1000);
  }

  // Listens on the same port again; retries while something else holds it.
  relisten() {
    if (this.stopped) return;
    const onError = (e) => {
      this.log(`listen again failed (${e.code}), retrying`);
      this.timer = setTimeout(() => this.relisten(), 100);
    };
    this.server.once('error', onError);
    this.server.listen(this.port(), '127.0.0.1', () => {
      this.server.removeListener('error', onError);
      this.down = false;
      this.log('reachable again');
      this.onChange({ down: false });
    });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.armTimer);
  }
}

module.exports = { Outage };
