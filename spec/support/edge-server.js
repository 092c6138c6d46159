#!/usr/bin/env node
'use strict';
// A raw Engine.IO v3 / Socket.IO v2 websocket server for the socket cases the Studio
// simulator does not produce: fragmented messages, control frames between fragments,
// oversized messages, a resume that repeats the last timestamp, JSON escapes, a
// websocket that never says hello, refusals. The token picks the behaviour.
//
//   node edge-server.js [--tls CERT KEY]   prints {"port":N} and serves until stdin ends
//   GET /log               the job log every mode streams, as text
//
// Tokens: ok, silent, refuse (HTTP 403), e44 (Socket.IO error packet), frag,
// big-<bytes>, tail (a last line without newline), inclusive (drops the first
// connection mid-log; a resubscription resumes at lastReceivedTimestamp
// inclusive), escapes, close41.

const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const tls = require('tls');

const JOB = 4242;
const LOG = (() => {
  const lines = ['Scheduling job in cluster...', 'Job started'];
  for (let e = 1; e <= 5; e++) {
    lines.push(`Epoch ${e}/5`);
    lines.push(`10/10 - 0s - loss: ${(1 / e).toFixed(4)} - accuracy: ${(e / 6).toFixed(4)}`);
  }
  lines.push('quotes "and" back\\slash, tab\there, caf\u00e9, emoji \u{1F600}, cr-lf follows\r');
  lines.push('Job completed (success)');
  return lines.join('\n') + '\n';
})();

// The log cut into pieces of 1..23 bytes (by code point), 3 pieces per millisecond.
const PIECES = (() => {
  const cps = Array.from(LOG);
  const out = [];
  let seed = 7;
  for (let i = 0, n = 0; i < cps.length; n++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const len = 1 + (seed % 23);
    out.push({ data: cps.slice(i, i + len).join(''), ts: 1700000000000 + Math.floor(n / 3) });
    i += len;
  }
  return out;
})();

function frame(opcode, payload, fin = true) {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
  const len = body.length;
  const head = len < 126 ? Buffer.from([0, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126 && len < 65536) {
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else if (len >= 65536) {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  head[0] = (fin ? 0x80 : 0) | opcode;
  return Buffer.concat([head, body]);
}

const text = (s) => frame(1, s);
const event = (name, obj) => text(`42${JSON.stringify([name, obj])}`);
const data = (p, withTs = true) => event(`job-data-${JOB}`, withTs ? { data: p.data, timestamp: p.ts } : { data: p.data });
const finished = () => event(`job-finished-${JOB}`, { success: true });

// A message in three fragments with a ping frame between the first two.
function fragmented(s) {
  const b = Buffer.from(s, 'utf8');
  const a = Math.floor(b.length / 3);
  const c = Math.floor((2 * b.length) / 3);
  return Buffer.concat([frame(1, b.subarray(0, a), false), frame(9, 'hi'), frame(0, b.subarray(a, c), false), frame(0, b.subarray(c))]);
}

// Client frames: masked, small; returns [messages, rest].
function parseFrames(buf) {
  const out = [];
  while (buf.length >= 2) {
    let len = buf[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (buf.length < 4) break;
      len = buf.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (buf.length < 10) break;
      len = Number(buf.readBigUInt64BE(2));
      off = 10;
    }
    if (buf.length < off + 4 + len) break;
    const mask = buf.subarray(off, off + 4);
    const body = Buffer.from(buf.subarray(off + 4, off + 4 + len));
    for (let i = 0; i < len; i++) body[i] ^= mask[i & 3];
    out.push({ opcode: buf[0] & 0x0f, body });
    buf = buf.subarray(off + 4 + len);
  }
  return [out, buf];
}

let inclusiveConnections = 0;

const modes = {
  ok: { hello: true },
  silent: { hello: false },
  e44: { open: (sock) => sock.write(text('44"Authentication error"')) },
  close41: { hello: true, open: (sock) => setTimeout(() => sock.write(text('41')), 20) },
  frag: {
    hello: true,
    subscribe: (sock) => {
      for (const p of PIECES) sock.write(fragmented(`42${JSON.stringify([`job-data-${JOB}`, { data: p.data, timestamp: p.ts }])}`));
      sock.write(finished());
    },
  },
  escapes: {
    hello: true,
    subscribe: (sock) => {
      // Every non-ASCII character as \uXXXX (surrogate pairs for the emoji), and no timestamps.
      for (const p of PIECES) {
        const json = JSON.stringify([`job-data-${JOB}`, { data: p.data }]).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
        sock.write(text(`42${json}`));
      }
      sock.write(finished());
    },
  },
  tail: {
    hello: true,
    subscribe: (sock) => {
      sock.write(data({ data: 'first line\nlast line without a newline', ts: 5 }));
      sock.write(finished());
      sock.write(event('job-finished', { jobId: JOB, success: true }));
    },
  },
  inclusive: {
    hello: true,
    subscribe: (sock, last) => {
      const first = ++inclusiveConnections === 1;
      const start = last > 0 ? PIECES.findIndex((p) => p.ts >= last) : 0;
      const stop = first ? Math.floor(PIECES.length / 2) + 1 : PIECES.length;
      for (let i = start; i >= 0 && i < stop; i++) sock.write(data(PIECES[i]));
      if (first) return sock.end(() => sock.destroy());
      sock.write(finished());
    },
  },
};

function modeOf(token) {
  const big = /^big-(\d+)$/.exec(token || '');
  if (big) {
    return { hello: true, subscribe: (sock) => sock.write(data({ data: 'x'.repeat(Number(big[1])) + '\n', ts: 1 })) };
  }
  return modes[token];
}

function upgrade(sock, head) {
  const [requestLine, ...lines] = head.split('\r\n');
  const headers = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const url = new URL(requestLine.split(' ')[1], 'http://x');
  if (url.pathname === '/log') {
    const body = Buffer.from(LOG, 'utf8');
    return sock.end(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${LOG}`);
  }
  const token = url.searchParams.get('token');
  const mode = modeOf(token);
  if (!mode || token === 'refuse' || !headers['sec-websocket-key']) return sock.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
  const accept = crypto.createHash('sha1').update(headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  sock.write(text('0{"sid":"edge","upgrades":[],"pingInterval":25000,"pingTimeout":5000}'));
  sock.write(text('40'));
  if (mode.hello) sock.write(event('hello', { hello: { version: 1 }, devices: [] }));
  if (mode.open) mode.open(sock);
  return mode;
}

function serve(sock) {
  sock.setNoDelay(true);
  let buf = Buffer.alloc(0);
  let mode = null;
  sock.on('error', () => {});
  sock.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (!mode) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.subarray(0, end).toString('latin1');
      buf = buf.subarray(end + 4);
      mode = upgrade(sock, head);
      if (!mode) return;
    }
    const [messages, rest] = parseFrames(buf);
    buf = rest;
    for (const m of messages) {
      if (m.opcode === 8) return sock.end(frame(8, m.body.subarray(0, 2)));
      if (m.opcode !== 1) continue;
      const s = m.body.toString('utf8');
      if (s === '2') sock.write(text('3'));
      const sub = /^42\["start-log-stream",\{"jobId":(\d+),"lastReceivedTimestamp":(\d+)\}\]$/.exec(s);
      if (sub && Number(sub[1]) === JOB && mode.subscribe) mode.subscribe(sock, Number(sub[2]));
    }
  });
}

const i = process.argv.indexOf('--tls');
const server = i > 0
  ? tls.createServer({ cert: fs.readFileSync(process.argv[i + 1]), key: fs.readFileSync(process.argv[i + 2]) }, serve)
  : net.createServer(serve);
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
