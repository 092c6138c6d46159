#!/usr/bin/env node
'use strict';
// Measures the fast stream: job-data events per second received by a plain `ws`
// client that counts frames, sent through socket.io's emit (the default wire) and
// through the raw batched writer (the batchedFrames knob). Exits 1 when the batched
// path is below the floor.
//
//   node bench/stream.js [--lines N] [--floor EVENTS_PER_S]

const WebSocket = require('ws');
const { startSim, train, withTimeout } = require('../test/helpers');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

// Connects, subscribes before the job starts producing, counts job-data frames until
// job-finished. Returns {events, seconds}.
async function measure(sim, lines) {
  const token = await sim.socketToken();
  const ws = new WebSocket(`${sim.url.replace('http', 'ws')}/socket.io/?EIO=3&transport=websocket&onDemandLogs=true&token=${token}`);
  await withTimeout(new Promise((resolve, reject) => {
    ws.on('message', (d) => d.toString().startsWith('42["hello"') && resolve());
    ws.on('error', reject);
  }), 5000, 'hello');
  const jobId = await train(sim, { trainingCycles: 1 });
  const prefix = `42["job-data-${jobId}"`;
  const done = `42["job-finished-${jobId}"`;
  let events = 0;
  let first = 0;
  const result = new Promise((resolve) => {
    ws.on('message', (d) => {
      const s = typeof d === 'string' ? d : d.toString('latin1', 0, 40);
      if (s.startsWith(prefix)) {
        if (!events) first = process.hrtime.bigint();
        events++;
      } else if (s.startsWith(done)) {
        resolve({ events, seconds: Number(process.hrtime.bigint() - first) / 1e9 });
      }
    });
  });
  ws.send(`42${JSON.stringify(['start-log-stream', { jobId, lastReceivedTimestamp: 0 }])}`);
  const r = await withTimeout(result, 60000, 'fast stream');
  ws.terminate();
  if (r.events !== lines + 3) throw new Error(`expected ${lines + 3} events, got ${r.events}`);
  return r;
}

async function main() {
  const lines = arg('--lines', 500000);
  const floor = arg('--floor', 100000);
  for (const batchedFrames of [false, true]) {
    const sim = await startSim({ scenario: { fastStream: { lines }, batchedFrames } });
    try {
      const r = await measure(sim, lines);
      const rate = Math.round(r.events / r.seconds);
      const what = batchedFrames ? `batched frames: ${r.events}` : `socket.io emit: ${r.events}`;
      process.stdout.write(`fast stream, ${what} job-data events in ${r.seconds.toFixed(3)} s = ${rate} events/s${batchedFrames ? ` (floor ${floor})` : ''}\n`);
      if (batchedFrames) process.exitCode = rate >= floor ? 0 : 1;
    } finally {
      await sim.stop();
    }
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`bench: ${e.stack}\n`);
    process.exitCode = 2;
  });
}

module.exports = { measure };
