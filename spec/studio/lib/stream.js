'use strict';
// The job logs of one socket connection: which jobs it follows, how far it got in
// each (a cursor into the job's frames), and the pump that sends what is due, in
// order, in batches, with backpressure. Replay and live delivery are the same thing:
// moving a cursor forward. Items are {event, data} (emitted through socket.io) or
// {raw} (a malformed packet); see lib/outlet.js.

const BATCH = 512;
const BATCHED_FRAMES = 2048; // items per raw write under the batchedFrames knob

const JUNK = [
  () => '42[broken',
  () => '42',
  (job) => `42["job-data-${job.id}",{"data":"trunc`,
  () => Buffer.from([0x04, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0x7b]),
];

const UNKNOWN = [
  () => ['device-connected', { deviceId: '5c:cf:7f:00:00:01', name: 'Simulated board', sensors: ['Accelerometer'] }],
  () => ['device-disconnected', { deviceId: '5c:cf:7f:00:00:01' }],
  () => ['studio-announcement', { message: 'Scheduled maintenance window on Sunday' }],
  (job) => ['job-progress', { jobId: job.id, progress: 0.5 }],
];

// Index of the first frame with a timestamp after `ts` (or at it, with `inclusive`).
function firstAfter(frames, ts, inclusive = false) {
  let lo = 0;
  let hi = frames.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (frames[mid].ts < ts || (!inclusive && frames[mid].ts === ts)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class Stream {
  // onData(n): n job-data frames went out; onExtra(kind): one 'junkFrames' or
  // 'unknownEvents' frame went out.
  constructor({ outlet, scenario, rng, onData, onExtra }) {
    this.outlet = outlet;
    this.scenario = scenario;
    this.rng = rng;
    this.onData = onData || (() => {});
    this.onExtra = onExtra || (() => {});
    this.subs = new Map(); // job id -> {job, cursor}
    this.dataSent = 0;
    this.waiting = false;
  }

  // start-log-stream: replay from after `ts` (or from the start), then live.
  subscribe(job, ts) {
    const fromStart = !(ts > 0) || this.scenario.get('replayFromStart') || this.scenario.get('omitTimestamps');
    const shared = this.scenario.get('sharedTimestamps');
    this.subs.set(job.id, { job, cursor: fromStart ? 0 : firstAfter(job.frames, ts, Boolean(shared && shared.resume === 'at')) });
    this.pump();
  }

  // Broadcast mode: live frames of a job from now on.
  follow(job, fromStart) {
    if (!this.subs.has(job.id)) this.subs.set(job.id, { job, cursor: fromStart ? 0 : job.frames.length });
  }

  follows(job) {
    return this.subs.has(job.id);
  }

  backlog(job) {
    const sub = this.subs.get(job.id);
    return sub ? job.frames.length - sub.cursor : 0;
  }

  item(job, frame) {
    if (this.scenario.get('omitTimestamps')) return { event: `job-data-${job.id}`, data: { data: frame.data } };
    if (!this.outlet.batched) return { event: `job-data-${job.id}`, data: { data: frame.data, timestamp: frame.ts } };
    // the batched path encodes each frame once for every connection
    if (!frame.enc) frame.enc = `42["job-data-${job.id}",{"data":${JSON.stringify(frame.data)},"timestamp":${frame.ts}}]`;
    return { raw: frame.enc };
  }

  // Junk or unrelated frames due after a job-data frame, per the scenario.
  extras(job) {
    const out = [];
    const junk = this.scenario.get('junkFrames');
    const unknown = this.scenario.get('unknownEvents');
    if (junk && this.dataSent % junk.every === 0) out.push({ raw: JUNK[this.rng.int(0, JUNK.length - 1)](job), extra: 'junkFrames' });
    if (unknown && this.dataSent % unknown.every === 0) {
      const [event, data] = UNKNOWN[this.rng.int(0, UNKNOWN.length - 1)](job);
      out.push({ event, data, extra: 'unknownEvents' });
    }
    return out;
  }

  finishedEvents(job) {
    if (this.scenario.get('noJobFinished')) return [];
    const success = job.finishedSuccessful === true;
    return [{ event: `job-finished-${job.id}`, data: { success } }, { event: 'job-finished', data: { jobId: job.id, success } }];
  }

  collect() {
    const items = [];
    const limit = Math.min(this.outlet.batched ? BATCHED_FRAMES : BATCH, this.outlet.room());
    let data = 0;
    for (const sub of this.subs.values()) {
      const frames = sub.job.frames;
      while (sub.cursor < frames.length && items.length < limit) {
        items.push(this.item(sub.job, frames[sub.cursor++]));
        this.dataSent++;
        data++;
        for (const extra of this.extras(sub.job)) {
          if (items.length >= limit) break;
          items.push(extra);
          this.onExtra(extra.extra);
        }
      }
      if (items.length >= limit) break;
      if (sub.job.done && sub.cursor >= frames.length) {
        this.subs.delete(sub.job.id);
        const finished = this.finishedEvents(sub.job);
        items.push(...finished.slice(0, limit - items.length));
        if (finished.length) sub.job.finishedSentUs = Number(process.hrtime.bigint() / 1000n); // sent in this same turn
      }
    }
    if (data) this.onData(data);
    return items;
  }

  pump() {
    if (this.waiting) return;
    while (!this.outlet.closed && this.outlet.writable()) {
      const items = this.collect();
      if (!items.length) return;
      this.outlet.send(items);
    }
    if (this.outlet.closed) return;
    this.waiting = true;
    this.outlet.onDrain(() => {
      this.waiting = false;
      this.pump();
    });
  }
}

module.exports = { Stream, firstAfter };
