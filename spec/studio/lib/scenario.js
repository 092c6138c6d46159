'use strict';
// Scenario knobs: defaults, validation, and the counters they consume at run time.
// Every knob is documented in README.md ("Scenarios").

const DEFAULTS = {
  seed: 1,
  speed: null, // simulated seconds per real second; null = the launcher's --speed
  socketTokenTtl: 3600, // seconds of validity of a socket token
  oauthTokenTtl: 3600, // seconds of validity of an OAuth access token
  http503: { count: 0, retryAfter: null, retryAfterAs: 'seconds' }, // the next N /v1 calls answer 503
  http429: { count: 0, retryAfter: 1, retryAfterAs: 'seconds' }, // the next N /v1 calls answer 429 + Retry-After
  slow: [], // [{match, delayMs, count?}]
  stall: [], // [{match, count?}] accept, never answer
  truncate: [], // [{match, bytes?, count?}] send part of the answer, then reset the connection
  dropSocket: null, // {afterFrames, every, how: 'close' | 'midFrame' | 'reset'}
  junkFrames: null, // {every}
  unknownEvents: null, // {every}
  replayFromStart: false,
  omitTimestamps: false,
  sharedTimestamps: null, // {frames, resume: 'after' | 'at'}
  storedLog: null, // {crlf, extraLine: {text, after}, splitFrames}
  queueSeconds: 3, // a new job waits (no log yet) until a socket follows it, at most this long
  batchedFrames: false, // job-data written as raw batches of frames, bypassing socket.io
  pingIntervalMs: 25000, // engine.io pingInterval (the server pings EIO4 clients)
  pingTimeoutMs: 20000, // engine.io pingTimeout
  noJobFinished: false,
  failJob: null, // {atEpoch?, message?, nth?}
  failClassify: null, // {message?, nth?}
  failBuild: null, // {message?, nth?}
  cutDownloads: null, // {afterBytes, count}: deployment downloads cut after that many bytes
  hugeLine: null, // {bytes?, atEpoch?, nth?}
  fastStream: null, // {lines, nth?}
  steadyStream: null, // {rate, lines, nth?}
  unreachable: null, // {forSeconds, afterSeconds | afterRequests | afterFrames}
  serverPingMs: 0,
  errorsAs200: false, // REST errors (4xx) answer HTTP 200 {"success":false,...}
};

function fail(msg) {
  throw new Error(`scenario: ${msg}`);
}

function isObj(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function count(v, name) {
  if (v === true) return 1;
  if (v === false || v == null) return 0;
  if (!Number.isInteger(v) || v < 0) fail(`${name} must be a non-negative integer`);
  return v;
}

const RETRY_AFTER_AS = ['seconds', 'date'];

// http503 / http429: a count, or {count, retryAfter (seconds), retryAfterAs}.
function httpFault(v, name, defaults) {
  const knob = isObj(v) ? { ...defaults, ...v, count: count(v.count, `${name}.count`) } : { ...defaults, count: count(v, name) };
  if (knob.retryAfter != null && !(Number(knob.retryAfter) >= 0)) fail(`${name}.retryAfter must be a number of seconds >= 0`);
  if (!RETRY_AFTER_AS.includes(knob.retryAfterAs)) fail(`${name}.retryAfterAs must be one of ${RETRY_AFTER_AS.join(', ')}`);
  return knob;
}

function oneOf(v, list, name) {
  if (!list.includes(v)) fail(`${name} must be one of ${list.join(', ')}`);
  return v;
}

function rules(v, name) {
  if (v == null) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((r) => {
    if (!isObj(r)) fail(`${name} entries must be objects`);
    const rule = { match: r.match || '.*', delayMs: r.delayMs || 0, count: r.count == null ? Infinity : count(r.count, `${name}.count`) };
    if (r.bytes != null) rule.bytes = count(r.bytes, `${name}.bytes`);
    return rule;
  });
}

// An optional knob given as `true` or an object; `null`/`false` disables it.
function optional(v, defaults) {
  if (v == null || v === false) return null;
  if (v === true) return { ...defaults };
  if (!isObj(v)) fail('expected true, false, null or an object');
  return { ...defaults, ...v };
}

const NORMALIZE = {
  seed: (v) => (typeof v === 'number' || typeof v === 'string' ? v : fail('seed must be a number or string')),
  speed: (v) => (v == null ? null : v > 0 ? Number(v) : fail('speed must be > 0')),
  socketTokenTtl: (v) => (v > 0 ? Number(v) : fail('socketTokenTtl must be > 0 seconds')),
  oauthTokenTtl: (v) => (v > 0 ? Number(v) : fail('oauthTokenTtl must be > 0 seconds')),
  http503: (v) => httpFault(v, 'http503', DEFAULTS.http503),
  http429: (v) => httpFault(v, 'http429', { ...DEFAULTS.http429, retryAfter: 1 }),
  slow: (v) => rules(v, 'slow'),
  stall: (v) => rules(v, 'stall'),
  truncate: (v) => rules(v, 'truncate'),
  dropSocket: (v) => {
    const knob = optional(v, { afterFrames: 10, every: false, how: 'close' });
    if (knob) oneOf(knob.how, ['close', 'midFrame', 'reset'], 'dropSocket.how');
    if (knob) knob.afterFrames = count(knob.afterFrames, 'dropSocket.afterFrames');
    return knob;
  },
  junkFrames: (v) => optional(v, { every: 5 }),
  unknownEvents: (v) => optional(v, { every: 5 }),
  replayFromStart: Boolean,
  omitTimestamps: Boolean,
  sharedTimestamps: (v) => {
    const knob = optional(v, { frames: 3, resume: 'after' });
    if (knob && !(Number.isInteger(knob.frames) && knob.frames >= 2)) fail('sharedTimestamps.frames must be an integer >= 2');
    if (knob) oneOf(knob.resume, ['after', 'at'], 'sharedTimestamps.resume');
    return knob;
  },
  storedLog: (v) => {
    const knob = optional(v, { crlf: true, extraLine: true, splitFrames: true });
    if (!knob) return null;
    if (knob.extraLine === true) knob.extraLine = { text: 'WARN: log collector restarted', after: 2 };
    if (knob.extraLine && !(isObj(knob.extraLine) && typeof knob.extraLine.text === 'string' && !knob.extraLine.text.includes('\n'))) {
      fail('storedLog.extraLine must be true, false or {"text": "one line", "after": N}');
    }
    if (knob.extraLine) knob.extraLine = { after: 2, ...knob.extraLine, after: count(knob.extraLine.after ?? 2, 'storedLog.extraLine.after') };
    knob.crlf = Boolean(knob.crlf);
    knob.splitFrames = Boolean(knob.splitFrames);
    return knob;
  },
  queueSeconds: (v) => (v >= 0 ? Number(v) : fail('queueSeconds must be >= 0')),
  batchedFrames: Boolean,
  pingIntervalMs: (v) => (v >= 10 ? Number(v) : fail('pingIntervalMs must be >= 10')),
  pingTimeoutMs: (v) => (v >= 10 ? Number(v) : fail('pingTimeoutMs must be >= 10')),
  noJobFinished: Boolean,
  failJob: (v) => optional(v, {}),
  failClassify: (v) => optional(v, {}),
  failBuild: (v) => optional(v, {}),
  cutDownloads: (v) => {
    const knob = optional(v, { afterBytes: 1024, count: 1 });
    if (knob) knob.count = count(knob.count, 'cutDownloads.count');
    return knob;
  },
  hugeLine: (v) => optional(v, { bytes: 1024 * 1024, atEpoch: 1 }),
  fastStream: (v) => optional(v, { lines: 100000 }),
  steadyStream: (v) => {
    const knob = optional(v, { rate: 1000, lines: 10000 });
    if (knob && !(knob.rate > 0 && knob.rate <= 1e6)) fail('steadyStream.rate must be > 0 and at most 1000000 lines per second');
    if (knob) knob.lines = count(knob.lines, 'steadyStream.lines');
    return knob;
  },
  unreachable: (v) => optional(v, { forSeconds: 2 }),
  serverPingMs: (v) => (v >= 0 ? Number(v) : fail('serverPingMs must be >= 0')),
  errorsAs200: Boolean,
};

function normalize(patch) {
  if (!isObj(patch)) fail('must be a JSON object');
  const out = {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$') || key === 'comment') continue; // room for notes in scenario files
    if (!NORMALIZE[key]) fail(`unknown knob "${key}"`);
    out[key] = NORMALIZE[key](value);
  }
  return out;
}

class Scenario {
  constructor(initial = {}) {
    this.values = { ...DEFAULTS, ...normalize(DEFAULTS), ...normalize(initial) };
    this.dropArmed = true;
  }

  get(key) {
    return this.values[key];
  }

  // Later patches replace whole knobs (and so reset their counters).
  update(patch) {
    const norm = normalize(patch);
    Object.assign(this.values, norm);
    if ('dropSocket' in norm) this.dropArmed = true;
    return norm;
  }

  // Decides the fault of the next /v1 call: null or {status: 503 | 429, retryAfter, retryAfterAs}.
  takeHttpFault() {
    for (const [key, status] of [['http503', 503], ['http429', 429]]) {
      const knob = this.values[key];
      if (knob.count > 0) {
        knob.count--;
        return { status, retryAfter: knob.retryAfter, retryAfterAs: knob.retryAfterAs };
      }
    }
    return null;
  }

  // First matching rule of `slow`, `stall` or `truncate` for a call, consuming one of its count.
  takeRule(kind, operationId, path) {
    for (const rule of this.values[kind]) {
      if (rule.count <= 0) continue;
      const re = new RegExp(rule.match);
      if ((operationId && re.test(operationId)) || re.test(path)) {
        rule.count--;
        return rule;
      }
    }
    return null;
  }

  // Whether a per-job knob applies to the job with this ordinal (1 = first job started).
  forJob(key, ordinal) {
    const knob = this.values[key];
    if (!knob) return null;
    if (knob.nth == null) return knob;
    const list = Array.isArray(knob.nth) ? knob.nth : [knob.nth];
    return list.includes(ordinal) ? knob : null;
  }

  toJSON() {
    return JSON.parse(JSON.stringify(this.values, (k, v) => (v === Infinity ? null : v)));
  }
}

module.exports = { Scenario, DEFAULTS, normalize };
