'use strict';
// The Studio websocket: a Socket.IO 4 server that allows Engine.IO v3 (`EIO=3`: our
// client, edge-impulse-api; the client pings) next to v4 (`EIO=4`: python-socketio 5;
// the server pings) on /socket.io/, the token check and hello, start-log-stream,
// broadcast of job logs, and the socket-level faults.

const { Server } = require('socket.io');
const { Outlet } = require('./outlet');
const { Stream } = require('./stream');
const { createRng, hash32 } = require('./rng');
const { redactKeys, REDACTED } = require('./record');

const HELLO = { hello: { version: 1 }, devices: [] };

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

// Lets an EIO3 connection's pongs through to the 'packet' event (the record) without
// engine.io's heartbeat-direction check closing it.
function tolerateClientPongs(engine) {
  const patch = (transport) => {
    if (!transport || transport.tolerantPongs) return;
    transport.tolerantPongs = true;
    const onPacket = transport.onPacket.bind(transport);
    transport.onPacket = (packet) => {
      if (packet.type === 'pong') engine.emit('packet', packet);
      else onPacket(packet);
    };
  };
  patch(engine.transport);
  engine.on('upgrade', (transport) => patch(transport));
}

class Sockets {
  constructor({ httpServer, auth, jobs, scenario, recorder, log, onDataFrames, onExtra }) {
    Object.assign(this, { auth, jobs, scenario, recorder, log });
    this.onDataFrames = onDataFrames || (() => {});
    this.onExtra = onExtra || (() => {});
    this.conns = new Set();
    this.opened = 0;
    this.io = new Server(httpServer, {
      path: '/socket.io',
      serveClient: false,
      perMessageDeflate: false,
      httpCompression: false,
      cookie: false,
      allowEIO3: true,
      pingInterval: scenario.get('pingIntervalMs'),
      pingTimeout: scenario.get('pingTimeoutMs'),
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    jobs.on('created', (job) => this.onJobCreated(job));
    jobs.on('frames', (job) => this.pumpFollowers(job));
    jobs.on('finished', (job) => this.pumpFollowers(job));
  }

  // Engine.IO timings for connections opened from now on (pings already scheduled keep
  // theirs until their next round).
  applyPingKnobs() {
    this.io.engine.opts.pingInterval = this.scenario.get('pingIntervalMs');
    this.io.engine.opts.pingTimeout = this.scenario.get('pingTimeoutMs');
  }

  onConnection(socket) {
    const id = ++this.opened;
    const query = socket.handshake.query || {};
    this.recorder.write({ kind: 'ws-open', conn: id, eio: socket.conn.protocol, query: { ...redactKeys(query), ...(query.token !== undefined ? { token: REDACTED } : {}) } });
    const outlet = new Outlet(socket, {
      batched: this.scenario.get('batchedFrames'),
      onCut: (how) => this.recorder.write({ kind: 'ws-cut', conn: id, how, framesSent: outlet.framesSent }),
    });
    const conn = { id, socket, outlet, onDemand: query.onDemandLogs === 'true', projectId: null, stream: null };
    socket.conn.on('packet', (p) => this.onPacket(conn, p));
    socket.on('disconnect', (reason) => this.onClose(conn, reason));
    this.conns.add(conn);

    const check = this.auth.checkSocketToken(query.token);
    if (check.error) {
      this.log(`socket ${id}: rejected (${check.error})`);
      socket.emit('hello', { hello: { err: check.error } });
      setTimeout(() => socket.disconnect(true), 20);
      return;
    }
    conn.projectId = check.projectId;
    conn.stream = new Stream({
      outlet,
      scenario: this.scenario,
      rng: createRng(hash32(`${this.scenario.get('seed')}|conn|${id}`)),
      onData: (n) => this.onDataFrames(n),
      onExtra: (kind) => this.onExtra(kind),
    });
    this.armDrop(conn);
    this.armPings(conn);
    socket.emit('hello', HELLO);
    if (!conn.onDemand) {
      for (const job of this.jobs.all(conn.projectId)) {
        if (job.done) continue;
        conn.stream.follow(job, false);
        this.jobs.followed(job);
      }
    }
    socket.on('start-log-stream', (msg) => this.onStartLogStream(conn, msg));
  }

  armDrop(conn) {
    const drop = this.scenario.get('dropSocket');
    if (!drop || (!drop.every && !this.scenario.dropArmed)) return;
    const outlet = conn.outlet;
    outlet.limit = drop.afterFrames;
    outlet.onLimit = () => {
      if (!drop.every) {
        if (!this.scenario.dropArmed) {
          outlet.limit = Infinity;
          return;
        }
        this.scenario.dropArmed = false;
      }
      this.log(`socket ${conn.id}: dropping (${drop.how}) after ${outlet.framesSent} frames`);
      // midFrame: the stream's next item is cut (outlet.send); with nothing more to
      // send, the connection is closed as it is
      if (drop.how === 'midFrame') {
        outlet.cutMidFrame = true;
        conn.cutTimer = setTimeout(() => outlet.drop('close'), 500);
      } else setImmediate(() => outlet.drop(drop.how));
    };
    if (outlet.framesSent >= outlet.limit) outlet.count(0);
  }

  // The serverPingMs knob: extra server pings. An EIO3 server never pings, and
  // engine.io closes an EIO3 connection that sends a pong ("invalid heartbeat
  // direction"): the pongs answering these pings are recorded and otherwise ignored.
  armPings(conn) {
    const ms = this.scenario.get('serverPingMs');
    if (!ms) return;
    const engine = conn.socket.conn;
    if (engine.protocol === 3) tolerateClientPongs(engine);
    conn.pingTimer = setInterval(() => engine.sendPacket('ping'), ms);
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
    this.jobs.followed(job);
  }

  onClose(conn, reason) {
    if (!this.conns.has(conn)) return;
    clearInterval(conn.pingTimer);
    clearTimeout(conn.cutTimer);
    conn.outlet.closed = true;
    this.conns.delete(conn);
    this.recorder.write({ kind: 'ws-close', conn: conn.id, reason });
  }

  onJobCreated(job) {
    for (const conn of this.conns) {
      if (conn.stream && !conn.onDemand && conn.projectId === job.projectId) {
        conn.stream.follow(job, true);
        this.jobs.followed(job);
      }
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
    for (const conn of this.conns) conn.outlet.drop();
    return n;
  }

  close() {
    for (const conn of this.conns) {
      clearInterval(conn.pingTimer);
      clearTimeout(conn.cutTimer);
    }
    this.dropAll();
    this.io.close();
  }
}

module.exports = { Sockets, parseEvent, rawPacket };
