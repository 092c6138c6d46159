'use strict';
// Simulated jobs: their log (as the frames the socket sends and as lines for REST),
// their timing under the speed model, cancellation, and the fast and steady streams.
// A new job waits in the queue (no log yet) until a socket follows it or `queueSeconds`
// passed, so clients see its log live, as they do on Studio where jobs take a while to
// schedule.

const EventEmitter = require('events');
const { createRng, hash32 } = require('./rng');

const FIRST_JOB_ID = 12873488112;
const BIG_LINE = 64 * 1024; // lines this long are sent whole, in one frame
const FAST_CHUNK = 4096; // fast-stream lines generated per turn of the event loop
const FAST_BACKLOG = 65536; // pause generation while a subscriber lags this many frames
const FAST_STALL_MS = 2000; // ...but never longer than this without progress

class Job {
  constructor({ id, ordinal, projectId, category, categoryKey, key }) {
    Object.assign(this, { id, ordinal, projectId, category, categoryKey, key });
    this.created = new Date();
    this.started = null;
    this.finished = null;
    this.finishedSuccessful = null;
    this.frames = []; // {ts, data}: exactly what job-data events carry
    this.lines = []; // {ts, data, level}: complete log lines, for REST
    this.partial = '';
    this.lastTs = 0;
    this.timer = null;
    this.cancelled = false;
    this.finishedSentUs = null; // CLOCK_MONOTONIC µs of the last job-finished sent
    this.followed = false; // a socket follows the job
    this.queued = null; // the start held until a socket follows the job
  }

  get done() {
    return this.finished !== null;
  }

  text() {
    let out = '';
    for (const f of this.frames) out += f.data;
    return out;
  }

  toJSON() {
    const out = {
      id: this.id,
      category: this.category,
      categoryKey: this.categoryKey,
      key: this.key,
      created: this.created.toISOString(),
      jobNotificationUids: [],
    };
    if (this.started) out.started = this.started.toISOString();
    if (this.finished) {
      out.finished = this.finished.toISOString();
      out.finishedSuccessful = this.finishedSuccessful;
      out.computeTime = Math.max(0, (this.finished - (this.started || this.created)) / 1000);
    }
    return out;
  }
}

function levelOf(line) {
  if (/^(ERROR|Error)\b|^Job failed|^Application exited with code [1-9]/.test(line)) return 'error';
  if (/^WARN/.test(line)) return 'warn';
  return 'info';
}

// Groups timed lines into frames: mostly one line per frame, sometimes several lines in
// one frame, sometimes one line over several frames (deterministic from `rng`).
function chunk(lines, rng) {
  const frames = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const r = rng.next();
    const big = line.text.length > BIG_LINE;
    if (!big && r < 0.15 && i + 1 < lines.length && lines[i + 1].text.length <= BIG_LINE) {
      const k = Math.min(rng.int(2, 3), lines.length - i);
      const group = [line];
      while (group.length < k && lines[i + group.length].text.length <= BIG_LINE) group.push(lines[i + group.length]);
      const mark = group.find((l) => l.mark);
      frames.push({ at: group[group.length - 1].at, data: group.map((l) => l.text).join(''), mark: mark && mark.mark });
      i += group.length;
    } else if (!big && r < 0.3 && line.text.length >= 8) {
      const cuts = [...new Set([rng.int(1, line.text.length - 2), rng.int(1, line.text.length - 2)])].sort((a, b) => a - b);
      let prev = 0;
      for (const c of [...cuts, line.text.length]) {
        frames.push({ at: line.at, data: line.text.slice(prev, c), mark: c === line.text.length ? line.mark : undefined });
        prev = c;
      }
      i++;
    } else {
      frames.push({ at: line.at, data: line.text, mark: line.mark });
      i++;
    }
  }
  return frames;
}

function stopTimer(job) {
  clearTimeout(job.timer);
  job.timer = null;
  job.queued = null;
}

class JobRegistry extends EventEmitter {
  // speed(): simulated seconds per real second; pressure(job): frames a subscriber lags;
  // knob(name): a scenario knob (queueSeconds, sharedTimestamps).
  constructor({ speed, pressure = () => 0, knob = () => null }) {
    super();
    this.speed = speed;
    this.pressure = pressure;
    this.knob = knob;
    this.jobs = new Map();
    this.nextId = FIRST_JOB_ID;
  }

  create(fields) {
    const job = new Job({ ...fields, id: this.nextId++, ordinal: this.jobs.size + 1 });
    this.jobs.set(job.id, job);
    this.emit('created', job);
    return job;
  }

  get(id) {
    return this.jobs.get(Number(id));
  }

  all(projectId) {
    return [...this.jobs.values()].filter((j) => j.projectId === projectId);
  }

  // Starts a job's log now if a socket follows it, else when one does or after
  // queueSeconds.
  start(job, begin) {
    const wait = this.knob('queueSeconds') || 0;
    if (job.followed || wait <= 0) return begin();
    job.queued = begin;
    job.timer = setTimeout(() => this.release(job), wait * 1000);
  }

  release(job) {
    const begin = job.queued;
    if (!begin) return;
    stopTimer(job);
    begin();
  }

  // A socket follows the job (start-log-stream, or a broadcast socket of its project).
  followed(job) {
    job.followed = true;
    this.release(job);
  }

  // The timestamp of the next frame: strictly increasing, or shared by groups of
  // frames under the sharedTimestamps knob.
  nextTimestamp(job) {
    const shared = this.knob('sharedTimestamps');
    if (shared && job.frames.length % shared.frames !== 0) return job.lastTs;
    return Math.max(Date.now(), job.lastTs + 1);
  }

  // Appends one frame; the caller emits 'frames' once per batch.
  append(job, data, mark) {
    const ts = this.nextTimestamp(job);
    job.lastTs = ts;
    job.frames.push({ ts, data });
    if (mark === 'started' && !job.started) job.started = new Date();
    let text = job.partial + data;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      const line = text.slice(0, nl);
      job.lines.push({ ts, data: line, level: levelOf(line) });
      text = text.slice(nl + 1);
      nl = text.indexOf('\n');
    }
    job.partial = text;
  }

  say(job, text) {
    this.append(job, text);
    this.emit('frames', job);
  }

  finish(job, success) {
    if (job.done) return;
    stopTimer(job);
    if (!job.started) job.started = new Date();
    job.finished = new Date();
    job.finishedSuccessful = success;
    this.emit('finished', job);
    if (job.onDone) job.onDone(success);
  }

  // Plays a plan ({lines: [{at, text, mark}], success}) under the speed model.
  run(job, plan, seed) {
    const frames = chunk(plan.lines, createRng(hash32(`${seed}|chunks|${job.ordinal}`)));
    const speed = this.speed();
    let t0 = 0;
    let i = 0;
    const tick = () => {
      job.timer = null;
      const sim = ((Date.now() - t0) * speed) / 1000;
      const before = i;
      while (i < frames.length && frames[i].at <= sim) {
        this.append(job, frames[i].data, frames[i].mark);
        i++;
      }
      if (i > before) this.emit('frames', job);
      if (i >= frames.length) return this.finish(job, plan.success);
      job.timer = setTimeout(tick, Math.max(0, ((frames[i].at - sim) * 1000) / speed));
    };
    this.start(job, () => {
      t0 = Date.now();
      job.timer = setTimeout(tick, 0);
    });
  }

  // N short lines as fast as the subscribers take them, then success.
  runFast(job, lines) {
    const head = ['Scheduling job in cluster...\n', 'Job started\n'];
    let i = 0;
    let waitedSince = 0;
    let stalled = false; // a subscriber stopped reading: stop waiting for it
    const width = String(lines).length;
    const turn = () => {
      job.timer = null;
      if (job.done) return;
      if (!stalled && this.pressure(job) > FAST_BACKLOG) {
        waitedSince = waitedSince || Date.now();
        stalled = Date.now() - waitedSince > FAST_STALL_MS;
        job.timer = setTimeout(turn, 1);
        return;
      }
      waitedSince = 0;
      if (i === 0) head.forEach((h, k) => this.append(job, h, k === 1 ? 'started' : undefined));
      const end = Math.min(lines, i + FAST_CHUNK);
      for (; i < end; i++) this.append(job, `Stream line ${String(i + 1).padStart(width, '0')} of ${lines}\n`);
      if (i >= lines) this.append(job, 'Job completed (success)\n');
      this.emit('frames', job);
      if (i >= lines) return this.finish(job, true);
      job.timer = setTimeout(turn, 0);
    };
    this.start(job, () => {
      job.timer = setTimeout(turn, 0);
    });
  }

  // N lines at a steady rate (lines per second), each stamped with the CLOCK_MONOTONIC
  // microsecond it was produced and sent at (process.hrtime, the clock clock_gettime
  // gives other processes), then success: the end-to-end latency measurement.
  runSteady(job, { rate, lines }) {
    const head = ['Scheduling job in cluster...\n', 'Job started\n'];
    const width = String(lines).length;
    let t0 = 0n;
    let i = 0;
    const turn = () => {
      job.timer = null;
      if (job.done) return;
      if (i === 0) head.forEach((h, k) => this.append(job, h, k === 1 ? 'started' : undefined));
      const now = process.hrtime.bigint();
      const due = Math.min(lines, Math.floor((Number(now - t0) / 1e9) * rate) + 1);
      for (; i < due; i++) {
        const us = process.hrtime.bigint() / 1000n;
        this.append(job, `Steady line ${String(i + 1).padStart(width, '0')} of ${lines} at ${us}\n`);
      }
      if (i >= lines) this.append(job, 'Job completed (success)\n');
      this.emit('frames', job);
      if (i >= lines) return this.finish(job, true);
      const next = t0 + BigInt(Math.ceil((i / rate) * 1e9));
      job.timer = setTimeout(turn, Math.max(0, Number(next - process.hrtime.bigint()) / 1e6));
    };
    this.start(job, () => {
      t0 = process.hrtime.bigint();
      job.timer = setTimeout(turn, 0);
    });
  }

  cancel(job, force) {
    if (job.done) return false;
    stopTimer(job);
    job.cancelled = true;
    if (force) {
      this.say(job, 'Job was cancelled by user (forced)\n');
      this.finish(job, false);
      return true;
    }
    this.say(job, 'Cancelling job...\n');
    job.timer = setTimeout(() => {
      this.say(job, 'Job was cancelled by user\n');
      this.finish(job, false);
    }, 1000 / this.speed());
    return true;
  }

  stop() {
    for (const job of this.jobs.values()) stopTimer(job);
  }
}

module.exports = { JobRegistry, Job, chunk, FIRST_JOB_ID };
