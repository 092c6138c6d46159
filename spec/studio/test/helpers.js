'use strict';
// Test helpers: start the launcher, call REST, and a minimal Engine.IO v3 client on
// `ws` that keeps every frame it received. Every wait is bounded.

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const WebSocket = require('ws');

const LAUNCHER = path.join(__dirname, '..', 'studio-sim');

function tmpFile(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'studio-sim-'));
  return path.join(dir, name);
}

// Starts the simulator; resolves to the ready line plus helpers.
async function startSim({ speed = 1000, scenario, record, args = [] } = {}) {
  const argv = [LAUNCHER, '--speed', String(speed), ...args];
  if (scenario) {
    const file = tmpFile('scenario.json');
    fs.writeFileSync(file, JSON.stringify(scenario));
    argv.push('--scenario', file);
  }
  if (record) argv.push('--record', record);
  const child = spawn(process.execPath, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const line = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`simulator not ready in 10 s: ${stderr}`)), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        resolve(out.slice(0, nl));
      }
    });
    child.on('exit', (code) => reject(new Error(`simulator exited (${code}): ${stderr}`)));
  });
  const info = JSON.parse(line);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    ...info,
    child,
    exited,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return withTimeout(exited, 5000, 'simulator did not exit');
    },
    api: (method, p, body, headers) => api(info, method, p, body, headers),
    control: (p, body) => request(info.url, body === undefined ? 'GET' : 'POST', `/__sim/${p}`, body),
    socketToken: async () => (await api(info, 'GET', `/v1/api/${info.project_id}/socket-token`)).body.token.socketToken,
  };
}

async function request(base, method, p, body, headers = {}) {
  const opts = { method, headers: { ...headers } };
  if (body !== undefined) {
    opts.body = typeof body === 'string' ? body : JSON.stringify(body);
    if (!opts.headers['content-type']) opts.headers['content-type'] = 'application/json';
  }
  const res = await fetch(base + p, { ...opts, signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, body: json, text };
}

function api(info, method, p, body, headers = {}) {
  return request(info.url, method, p, body, { 'x-api-key': info.api_key, ...headers });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms); }),
  ]);
}

async function until(pred, ms, what, step = 10) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await new Promise((r) => setTimeout(r, step));
  }
}

// Parsed `42[...]` frames: {event, data}; anything else: {raw}.
function parseFrame(raw) {
  if (typeof raw !== 'string') return { binary: raw };
  const m = /^42(\[.*)$/s.exec(raw);
  if (!m) return { raw };
  try {
    const [event, data] = JSON.parse(m[1]);
    return { event, data, raw };
  } catch (e) {
    return { raw, malformed: true };
  }
}

class EioClient {
  constructor(url, { token, onDemand = true } = {}) {
    const q = `EIO=3&transport=websocket${onDemand ? '&onDemandLogs=true' : ''}&token=${encodeURIComponent(token)}`;
    this.frames = [];
    this.closed = false;
    this.ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?${q}`);
    // ws 7: text frames arrive as strings, binary frames as Buffers
    this.ws.on('message', (data) => this.frames.push(parseFrame(data)));
    this.closedP = new Promise((resolve) => this.ws.on('close', (code) => {
      this.closed = true;
      resolve(code);
    }));
    this.ws.on('error', () => {});
  }

  events(name) {
    return this.frames.filter((f) => (name instanceof RegExp ? name.test(f.event || '') : f.event === name));
  }

  async hello(ms = 5000) {
    return until(() => this.events('hello')[0] || (this.closed && Promise.reject(new Error('closed before hello'))), ms, 'hello');
  }

  send(raw) {
    this.ws.send(raw);
  }

  follow(jobId, lastReceivedTimestamp = 0) {
    this.send(`42${JSON.stringify(['start-log-stream', { jobId, lastReceivedTimestamp }])}`);
  }

  async finished(jobId, ms = 10000) {
    return until(() => this.events(`job-finished-${jobId}`)[0], ms, `job-finished-${jobId}`);
  }

  text(jobId) {
    return this.events(`job-data-${jobId}`).map((f) => f.data.data).join('');
  }

  close() {
    this.ws.terminate();
    return withTimeout(this.closedP, 5000, 'ws close');
  }
}

// A websocket client on a bare TCP socket, to see the wire itself: the frames, how many
// arrived per TCP read, bytes left over from a frame cut short, and how the TCP
// connection ended ('end' for FIN, or the error code, e.g. ECONNRESET).
class RawWsClient {
  constructor(url, { token, eio = 3, onDemand = true } = {}) {
    const u = new URL(url);
    const q = `EIO=${eio}&transport=websocket${onDemand ? '&onDemandLogs=true' : ''}&token=${encodeURIComponent(token)}`;
    this.frames = [];
    this.reads = 0;
    this.buf = Buffer.alloc(0);
    this.upgraded = false;
    this.ended = null;
    this.tcp = net.connect(Number(u.port), u.hostname);
    this.tcp.on('connect', () => this.tcp.write(`GET /socket.io/?${q} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n`
      + `Connection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`));
    this.tcp.on('data', (d) => this.onData(d));
    this.closedP = new Promise((resolve) => {
      this.tcp.on('error', (e) => { this.ended = this.ended || e.code; });
      this.tcp.on('end', () => { this.ended = this.ended || 'end'; });
      this.tcp.on('close', () => resolve(this.ended || 'close'));
    });
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      this.upgraded = true;
      this.buf = this.buf.subarray(end + 4);
    }
    this.reads++;
    for (;;) {
      const f = this.parseFrame();
      if (!f) return;
      this.frames.push({ ...parseFrame(f.opcode === 1 ? f.payload.toString('utf8') : f.payload), read: this.reads });
    }
  }

  parseFrame() {
    const b = this.buf;
    if (b.length < 2) return null;
    let len = b[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      len = Number(b.readBigUInt64BE(2));
      off = 10;
    }
    if (b.length < off + len) return null;
    this.buf = b.subarray(off + len);
    return { opcode: b[0] & 0x0f, payload: b.subarray(off, off + len) };
  }

  // Sends a text frame (masked, as a client must).
  send(text) {
    const payload = Buffer.from(text, 'utf8');
    const mask = crypto.randomBytes(4);
    const head = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length])
      : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    const body = Buffer.from(payload.map((c, i) => c ^ mask[i % 4]));
    this.tcp.write(Buffer.concat([head, mask, body]));
  }

  events(name) {
    return this.frames.filter((f) => f.event === name);
  }

  async hello(ms = 5000) {
    return until(() => this.events('hello')[0], ms, 'hello');
  }

  follow(jobId, lastReceivedTimestamp = 0) {
    this.send(`42${JSON.stringify(['start-log-stream', { jobId, lastReceivedTimestamp }])}`);
  }

  close() {
    this.tcp.destroy();
    return withTimeout(this.closedP, 5000, 'tcp close');
  }
}

async function train(sim, body, learnId = sim.learn_id) {
  const res = await sim.api('POST', `/v1/api/${sim.project_id}/jobs/train/keras/${learnId}`, body);
  if (res.status !== 200 || !res.body.success) throw new Error(`train failed: ${res.status} ${res.text}`);
  return res.body.id;
}

async function jobStatus(sim, jobId) {
  return (await sim.api('GET', `/v1/api/${sim.project_id}/jobs/${jobId}/status`)).body.job;
}

async function waitJob(sim, jobId, ms = 15000) {
  return until(async () => {
    const job = await jobStatus(sim, jobId);
    return job.finished ? job : null;
  }, ms, `job ${jobId} to finish`, 25);
}

async function download(sim, jobId) {
  return (await sim.api('GET', `/v1/api/${sim.project_id}/jobs/${jobId}/stdout/download`)).text;
}

function readRecord(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

module.exports = {
  startSim, request, until, withTimeout, EioClient, RawWsClient, parseFrame, train, jobStatus, waitJob, download, readRecord, tmpFile,
};
