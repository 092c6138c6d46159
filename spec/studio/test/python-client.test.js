'use strict';
// A python-socketio 5 client (Engine.IO v4), as Edge Impulse's Python SDK uses it,
// follows jobs on the simulator: the proof that the EIO4 side speaks like Studio too.
// Needs the Debian packages python3-socketio and python3-websocket (tools/setup).

const test = require('node:test');
const assert = require('node:assert');
const { execFile } = require('child_process');
const fs = require('fs');
const path = require('path');
const { startSim, train, download, jobStatus, tmpFile, readRecord } = require('./helpers');

const PYTHON = '/usr/bin/python3'; // Debian's, where the packages are
const SCRIPT = path.join(__dirname, 'python', 'follow.py');

function hasPythonSocketio() {
  if (!fs.existsSync(PYTHON)) return false;
  try {
    require('child_process').execFileSync(PYTHON, ['-c', 'import socketio, websocket'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return false;
  }
}
const skip = hasPythonSocketio() ? false : 'python3-socketio / python3-websocket are not installed (bash tools/setup installs them)';

function follow(sim, jobId, args = []) {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, [SCRIPT, sim.url, sim.api_key, String(sim.project_id), String(jobId), ...args], { timeout: 150000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`follow.py failed (${err.code}): ${stderr}${stdout}`));
      resolve(JSON.parse(stdout));
    });
  });
}

test('python-socketio: a job of more than two simulated minutes, live, on one EIO4 connection with server pings', { skip }, async (t) => {
  const record = tmpFile('record.jsonl');
  const sim = await startSim({ speed: 10, record, scenario: { pingIntervalMs: 1000, pingTimeoutMs: 2000 } });
  t.after(() => sim.stop());
  const id = await train(sim, { trainingCycles: 50 });
  // the SDK's way: no onDemandLogs, the socket gets the project's jobs
  const seen = await follow(sim, id);
  assert.deepStrictEqual(seen.hello, { hello: { version: 1 }, devices: [] });
  assert.strictEqual(seen.connects, 1, 'one connect');
  assert.strictEqual(seen.disconnects, 0, 'no disconnect');
  assert.deepStrictEqual(seen.finished, { success: true });
  const log = await download(sim, id);
  assert.ok(log.includes('Epoch 50/50\n'));
  assert.strictEqual(seen.text, log, 'every line, once, in order');
  const status = await jobStatus(sim, id);
  assert.ok(((Date.parse(status.finished) - Date.parse(status.started)) / 1000) * 10 >= 120, 'two simulated minutes');
  const rec = readRecord(record);
  const opens = rec.filter((r) => r.kind === 'ws-open');
  assert.strictEqual(opens.length, 1);
  assert.strictEqual(opens[0].query.EIO, '4');
  const pongs = rec.filter((r) => r.kind === 'ws-message' && r.raw === '3');
  assert.ok(pongs.length >= 8, `${pongs.length} server pings answered`);
});

test('python-socketio: start-log-stream on the hello, with onDemandLogs', { skip }, async (t) => {
  const sim = await startSim({ speed: 100 });
  t.after(() => sim.stop());
  const id = await train(sim, { trainingCycles: 10 });
  const seen = await follow(sim, id, ['--on-demand']);
  assert.strictEqual(seen.connects, 1);
  assert.strictEqual(seen.disconnects, 0);
  assert.deepStrictEqual(seen.finished, { success: true });
  assert.strictEqual(seen.text, await download(sim, id));
});
