'use strict';
// The Studio websocket: Socket.IO 2.5.1 (Engine.IO v3) on /socket.io/, the token check
// and hello, start-log-stream, broadcast of job logs, and the socket-level faults.

const createIo = require('socket.io');
const { Wire } = require('./wire');
const { Stream } = require('./stream');
const { createRng, hash32 } = require('./rng');
const { redactKeys, REDACTED } = require('./record');

const PACKET_CODES = { open: 0, close: 1, ping: 2, pong: 3, message: 4, upgrade: 5, noop: 6 };

function rawPacket(packet) {
  const code = PACKET_CODES[packet.type];
  if (Buffer.isBuffer(packet.data) || packet.data instanceof ArrayBuffer) return `${code}<binary ${packet.data.byteLength} bytes>`;
  return `${code}${packet.data === undefined ? '' : packet.data}`;
}

// Event name and payload of a `42[...]` message, when it parses.
function parseEvent(raw) {
  const m = /^42(\d*)(\[.*)$/s.exec(raw);
  if (!m) return null;
  try {
    const arr = JSON.parse(m[2]);
    return Array.isArray(arr) ? { event: arr[0], data: arr[1] } : null;
  } catch (e) {
    return null;
  }
}

class Sockets {
  constructor({ httpServer, auth, jobs, scenario, recorder, log, onDataFrames }) {
    Object.assign(this, { auth, jobs, scenario, recorder, log });
    this.onDataFrames = onDataFrames || (() => {});
    this.conns = new Set();
    this.byEngine = new WeakMap(); // engine.io socket -> conn
    this.opened = 0;
    this.io = createIo(httpServer, {
      path: '/socket.io',
      serveClient: false,
      perMessageDeflate: false,
      httpCompression: false,
      cookie: false,
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    jobs.on('created', (job) => this.onJobCreated(job));
    jobs.on('frames', (job) => this.pumpFollowers(job));
    jobs.on('finished', (job) => this.pumpFollowers(job));
  }

  onConnection(socket) {
    const known = this.byEngine.get(socket.conn);
    if (known) return this.onReconnectNamespace(known, socket);
    const id = ++this.opened;
    const query = socket.handshake.query || {};
    this.recorder.write({ kind: 'ws-open', conn: id, query: { ...redactKeys(query), ...(query.token !== undefined ? { token: REDACTED } : {}) } });
    const wire = new Wire(socket.conn);
    const conn = { id, socket, wire, onDemand: query.onDemandLogs === 'true', projectId: null, stream: null };
    socket.conn.on('packet', (p) => this.onPacket(conn, p));
    socket.on('disconnect', (reason) => this.onClose(conn, reason));
    this.conns.add(conn);
    this.byEngine.set(socket.conn, conn);

    const check = this.auth.checkSocketToken(query.token);
    if (check.error) {
      this.log(`socket ${id}: rejected (${check.error})`);
      socket.emit('hello', { hello: { err: check.error } });
      setTimeout(() => socket.disconnect(true), 20);
      return;
    }
    conn.projectId = check.projectId;
    conn.stream = new Stream({
      wire,
      scenario: this.scenario,
      rng: createRng(hash32(`${this.scenario.get('seed')}|conn|${id}`)),
      onData: (n) => this.onDataFrames(n),
    });
    this.armDrop(conn);
    this.armPings(conn);
    wire.send(['42["hello",{"hello":{"version":1},"devices":[]}]']);
    if (!conn.onDemand) {
      for (const job of this.jobs.all(conn.projectId)) if (!job.done) conn.stream.follow(job, false);
    }
    socket.on('start-log-stream', (msg) => this.onStartLogStream(conn, msg));
  }

  // A client that sends `40` again gets the default namespace again (socket.io 2
  // makes a new socket object and runs the handler again): same connection, new hello.
  onReconnectNamespace(conn, socket) {
    if (!conn.stream) return;
    socket.on('start-log-stream', (msg) => this.onStartLogStream(conn, msg));
    conn.wire.send(['42["hello",{"hello":{"version":1},"devices":[]}]']);
  }

  armDrop(conn) {
    const drop = this.scenario.get('dropSocket');
    if (!drop || (!drop.every && !this.scenario.dropArmed)) return;
    conn.wire.limit = drop.afterFrames;
    conn.wire.onLimit = () => {
      if (!drop.every) {
        if (!this.scenario.dropArmed) {
          conn.wire.limit = Infinity;
          return;
        }
        this.scenario.dropArmed = false;
      }
      this.log(`socket ${conn.id}: dropping after ${conn.wire.framesSent} frames`);
      setImmediate(() => conn.wire.drop());
    };
    if (conn.wire.framesSent >= conn.wire.limit) conn.wire.count(0);
  }

  armPings(conn) {
    const ms = this.scenario.get('serverPingMs');
    if (!ms) return;
    conn.pingTimer = setInterval(() => conn.wire.send(['2']), ms);
  }

  onPacket(conn, packet) {
    const raw = rawPacket(packet);
    const entry = { kind: 'ws-message', conn: conn.id, raw };
    const ev = typeof packet.data === 'string' ? parseEvent(raw) : null;
    if (ev) {
      entry.event = ev.event;
      entry.data = redactKeys(ev.data);
    }
    this.recorder.write(entry);
  }

  onStartLogStream(conn, msg) {
    const jobId = msg && Number(msg.jobId);
    const job = this.jobs.get(jobId);
    if (!job || job.projectId !== conn.projectId) {
      this.log(`socket ${conn.id}: start-log-stream for unknown job ${msg && msg.jobId}`);
      return;
    }
    conn.stream.subscribe(job, Number(msg.lastReceivedTimestamp) || 0);
  }

  onClose(conn, reason) {
    if (!this.conns.has(conn)) return;
    clearInterval(conn.pingTimer);
    conn.wire.closed = true;
    this.conns.delete(conn);
    this.recorder.write({ kind: 'ws-close', conn: conn.id, reason });
  }

  onJobCreated(job) {
    for (const conn of this.conns) {
      if (conn.stream && !conn.onDemand && conn.projectId === job.projectId) conn.stream.follow(job, true);
    }
  }

  pumpFollowers(job) {
    for (const conn of this.conns) if (conn.stream && conn.stream.follows(job)) conn.stream.pump();
  }

  // Frames the slowest follower of a job has not been sent yet.
  backlog(job) {
    let max = 0;
    for (const conn of this.conns) if (conn.stream) max = Math.max(max, conn.stream.backlog(job));
    return max;
  }

  dropAll() {
    const n = this.conns.size;
    for (const conn of this.conns) conn.wire.drop();
    return n;
  }

  close() {
    for (const conn of this.conns) clearInterval(conn.pingTimer);
    this.dropAll();
    this.io.close();
  }
}

module.exports = { Sockets, parseEvent, rawPacket };
