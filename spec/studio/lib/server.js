'use strict';
// The simulator: one HTTP server on 127.0.0.1 carrying REST (/v1), the websocket
// (/socket.io/) and the control endpoints (/__sim/), plus the HTTP-level faults
// (503/429, slow, stall).

const http = require('http');
const { Scenario } = require('./scenario');
const { Auth, DEFAULT_API_KEY, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET } = require('./auth');
const { JobRegistry } = require('./jobs');
const { Project } = require('./project');
const { Rest } = require('./rest');
const { Sockets } = require('./socket');
const { Recorder, parseBody } = require('./record');
const { handleControl } = require('./control');
const { Outage } = require('./outage');
const fixtures = require('./fixtures');

const DEFAULT_SPEED = 10;
const MAX_BODY = 16 * 1024 * 1024;
const MAX_UPLOAD = 256 * 1024 * 1024; // multipart/form-data bodies (file uploads)

// Retry-After as delta-seconds or as an HTTP date at least that far ahead (RFC 9110
// §10.2.3; a date has whole seconds, so it is rounded up).
function retryAfterHeader(fault) {
  if (fault.retryAfter == null) return {};
  if (fault.retryAfterAs !== 'date') return { 'retry-after': String(fault.retryAfter) };
  const at = Math.ceil((Date.now() + Number(fault.retryAfter) * 1000) / 1000) * 1000;
  return { 'retry-after': new Date(at).toUTCString() };
}

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

// Sends the first `bytes` of a body whose headers promised all of it, then cuts the
// connection: a download interrupted mid-way.
function cut(res, data, bytes) {
  res.write(data.subarray(0, Math.min(bytes, data.length)), () => res.socket && res.socket.destroy());
}

class Simulator {
  constructor({ port = 0, apiKey = DEFAULT_API_KEY, scenario = {}, record = null, speed = DEFAULT_SPEED, verbose = false } = {}) {
    this.port = port;
    this.speedOption = speed;
    this.verbose = verbose;
    this.scenario = new Scenario(scenario);
    this.auth = new Auth({ apiKey, scenario: this.scenario });
    this.recorder = new Recorder(record, () => this.auth.secrets());
    this.jobs = new JobRegistry({ speed: () => this.speed(), pressure: (job) => this.sockets.backlog(job), knob: (k) => this.scenario.get(k) });
    this.project = new Project({ jobs: this.jobs, scenario: this.scenario });
    this.rest = new Rest({ project: this.project, jobs: this.jobs, auth: this.auth, baseUrl: () => this.url });
    this.tcp = new Set();
    this.counters = { tcpConnections: 0, requests: 0, dataFrames: 0, junkFrames: 0, unknownEvents: 0 };
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    this.server.on('connection', (s) => this.onTcp(s));
    this.outage = new Outage({
      server: this.server, tcp: this.tcp, port: () => this.port, log: (m) => this.log(m),
      onChange: (change) => this.recorder.write({ kind: 'outage', ...change }),
    });
    this.jobs.on('finished', (job) => this.recorder.write({ kind: 'job-finished', job: job.id, success: job.finishedSuccessful === true }));
    this.sockets = new Sockets({
      httpServer: this.server,
      auth: this.auth,
      jobs: this.jobs,
      scenario: this.scenario,
      recorder: this.recorder,
      log: (m) => this.log(m),
      onDataFrames: (n) => this.onDataFrames(n),
      onExtra: (kind) => { this.counters[kind]++; },
    });
  }

  log(msg) {
    if (this.verbose) process.stderr.write(`studio-sim: ${msg}\n`);
  }

  speed() {
    return this.scenario.get('speed') || this.speedOption;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.removeListener('error', reject);
        this.port = this.server.address().port;
        this.outage.arm(this.scenario.get('unreachable'), this.counters);
        resolve(this.readyInfo());
      });
    });
  }

  readyInfo() {
    return {
      url: this.url,
      api_key: this.auth.apiKey,
      project_id: fixtures.PROJECT_ID,
      learn_id: fixtures.LEARN_IDS[0],
      dsp_id: fixtures.DSP_ID,
      learn_ids: fixtures.LEARN_IDS,
      jwt: this.auth.userJwt,
      oauth_client_id: OAUTH_CLIENT_ID,
      oauth_client_secret: OAUTH_CLIENT_SECRET,
      speed: this.speed(),
      pid: process.pid,
    };
  }

  onTcp(socket) {
    this.counters.tcpConnections++;
    this.tcp.add(socket);
    socket.on('close', () => this.tcp.delete(socket));
  }

  onRequest(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const chunks = [];
    let size = 0;
    const max = /^multipart\/form-data\b/i.test(req.headers['content-type'] || '') ? MAX_UPLOAD : MAX_BODY;
    req.on('data', (c) => {
      size += c.length;
      if (size <= max) chunks.push(c);
    });
    req.on('end', () => {
      if (size > max) return sendJson(res, 413, { success: false, error: 'Request body too large' });
      const parsed = parseBody(Buffer.concat(chunks), req.headers['content-type']);
      if (url.pathname.startsWith('/__sim/')) return handleControl(this, req, res, url.pathname, parsed.parsed);
      if (url.pathname === '/v1' || url.pathname.startsWith('/v1/')) return this.onApi(req, res, url, parsed);
      sendJson(res, 404, { success: false, error: `Cannot ${req.method} ${url.pathname}` });
    });
  }

  onApi(req, res, url, parsed) {
    const n = ++this.counters.requests;
    const query = Object.fromEntries(url.searchParams);
    const match = this.rest.match(req.method, url.pathname);
    const operationId = match ? match.route.operationId : undefined;
    const entry = { method: req.method, path: url.pathname, query, headers: req.headers, body: parsed.body, raw: parsed.raw, operationId };
    const finish = (code, body, headers, text, cutAfter) => {
      // Studio also reports some errors as HTTP 200 with success:false
      const status = code >= 400 && code < 429 && this.scenario.get('errorsAs200') ? 200 : code;
      this.recorder.http({ ...entry, status });
      const truncate = this.scenario.takeRule('truncate', operationId, url.pathname);
      if (truncate) return this.truncated(res, status, body, headers, text, truncate);
      if (text !== undefined) {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
        if (cutAfter !== undefined) cut(res, text, cutAfter);
        else res.end(text);
      } else sendJson(res, status, body, headers);
      if (this.outage.isTriggerRequest(n)) res.on('finish', () => this.outage.fire());
    };

    if (this.scenario.takeRule('stall', operationId, url.pathname)) {
      this.log(`stalling ${req.method} ${url.pathname}`);
      this.recorder.http({ ...entry, status: null, stalled: true });
      return;
    }
    const slow = this.scenario.takeRule('slow', operationId, url.pathname);
    if (slow && slow.delayMs > 0) entry.delayedMs = slow.delayMs;
    const respond = () => this.answer(req, url, query, parsed, match, finish);
    if (slow && slow.delayMs > 0) setTimeout(respond, slow.delayMs);
    else respond();
  }

  answer(req, url, query, parsed, match, finish) {
    const fault = this.scenario.takeHttpFault();
    if (fault && fault.status === 503) return finish(503, { success: false, error: 'Service temporarily unavailable, try again later' }, retryAfterHeader(fault));
    if (fault && fault.status === 429) return finish(429, { success: false, error: 'Too many requests, slow down' }, retryAfterHeader(fault));
    if (!match) return finish(404, { success: false, error: `Cannot ${req.method} ${url.pathname}` });
    if (!match.route.public) {
      const auth = this.auth.check(req.headers);
      if (!auth.ok) return finish(401, { success: false, error: auth.error });
    }
    const ctx = {
      match, query, headers: req.headers, json: parsed.parsed, invalidJson: parsed.invalidJson,
      multipart: parsed.multipart, invalidMultipart: parsed.invalidMultipart,
    };
    let result;
    try {
      result = this.rest.handle(ctx);
    } catch (e) {
      this.log(`internal error: ${e.stack}`);
      result = { status: 500, body: { success: false, error: 'Internal error' } };
    }
    finish(result.status || 200, result.body, result.headers || {}, result.text, result.cutAfter);
  }

  // The `truncate` fault: announce the whole body, send part of it, reset the connection.
  truncated(res, status, body, headers, text, cut) {
    const bytes = Buffer.from(text !== undefined ? text : JSON.stringify(body));
    const type = text !== undefined ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
    const keep = Math.min(bytes.length - 1, cut.bytes != null ? cut.bytes : Math.floor(bytes.length / 2));
    this.log(`truncating a response after ${keep} of ${bytes.length} bytes`);
    res.writeHead(status, { 'content-type': type, 'content-length': String(bytes.length), ...headers });
    res.write(bytes.subarray(0, Math.max(0, keep)), () => res.socket && res.socket.destroy());
  }

  onDataFrames(n) {
    this.counters.dataFrames += n;
    this.outage.onFrames(this.counters.dataFrames);
  }

  goUnreachable(seconds) {
    this.outage.start(seconds);
  }

  updateScenario(patch) {
    const applied = this.scenario.update(patch);
    if ('unreachable' in applied) this.outage.arm(this.scenario.get('unreachable'), this.counters);
    if ('pingIntervalMs' in applied || 'pingTimeoutMs' in applied) this.sockets.applyPingKnobs();
  }

  stats() {
    return {
      tcpConnections: this.counters.tcpConnections,
      requests: this.counters.requests,
      wsConnections: this.sockets.opened,
      socketsOpen: this.sockets.conns.size,
      dataFrames: this.counters.dataFrames,
      junkFrames: this.counters.junkFrames,
      unknownEvents: this.counters.unknownEvents,
      unreachable: this.outage.down,
      jobs: [...this.jobs.jobs.values()].map((j) => ({
        id: j.id,
        category: j.category,
        state: !j.done ? 'running' : j.finishedSuccessful ? 'succeeded' : 'failed',
        frames: j.frames.length,
        lines: j.lines.length,
        finishedSentUs: j.finishedSentUs,
      })),
    };
  }

  stop() {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    this.outage.stop();
    this.jobs.stop();
    this.sockets.close();
    for (const s of this.tcp) s.destroy();
    this.recorder.close();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

module.exports = { Simulator, DEFAULT_SPEED, retryAfterHeader };
