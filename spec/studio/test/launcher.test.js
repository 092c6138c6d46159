'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { startSim, request, train, waitJob, withTimeout, tmpFile } = require('./helpers');

const STUDIO = path.join(__dirname, '..');
const SPEC_DIR = path.resolve(STUDIO, '..', '..', '..', 'shared', 'spec');

test('ready line: required keys, and nothing else on stdout', async (t) => {
  const sim = await startSim();
  let extra = '';
  sim.child.stdout.on('data', (d) => { extra += d; });
  t.after(() => sim.stop());
  assert.match(sim.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.match(sim.api_key, /^ei_/);
  for (const k of ['project_id', 'learn_id', 'dsp_id']) assert.ok(Number.isInteger(sim[k]), k);
  for (const k of ['jwt', 'oauth_client_id', 'oauth_client_secret']) assert.strictEqual(typeof sim[k], 'string', k);
  await waitJob(sim, await train(sim, { trainingCycles: 2 }));
  await sim.stop();
  assert.strictEqual(extra, '');
});

test('exits on EOF of stdin, SIGINT and SIGTERM', async () => {
  const a = await startSim();
  a.child.stdin.end();
  assert.strictEqual((await withTimeout(a.exited, 5000, 'exit on EOF')).code, 0);
  const b = await startSim();
  b.child.kill('SIGINT');
  assert.strictEqual((await withTimeout(b.exited, 5000, 'exit on SIGINT')).code, 0);
  const c = await startSim();
  c.child.kill('SIGTERM');
  assert.strictEqual((await withTimeout(c.exited, 5000, 'exit on SIGTERM')).code, 0);
});

test('--port and --api-key; bound to 127.0.0.1 only', async (t) => {
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
  const sim = await startSim({ args: ['--port', String(port), '--api-key', 'ei_custom_test_key'] });
  t.after(() => sim.stop());
  assert.strictEqual(sim.url, `http://127.0.0.1:${port}`);
  assert.strictEqual(sim.api_key, 'ei_custom_test_key');
  assert.strictEqual((await sim.api('GET', `/v1/api/${sim.project_id}`)).status, 200);
  if (fs.existsSync('/proc/net/tcp')) {
    // listening sockets (state 0A) on that port: only 127.0.0.1 (0100007F), no IPv6
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const listening = (file) => fs.readFileSync(file, 'utf8').split('\n').slice(1)
      .map((l) => l.trim().split(/\s+/)).filter((f) => f[1] && f[1].endsWith(`:${hex}`) && f[3] === '0A').map((f) => f[1]);
    assert.deepStrictEqual(listening('/proc/net/tcp'), [`0100007F:${hex}`]);
    if (fs.existsSync('/proc/net/tcp6')) assert.deepStrictEqual(listening('/proc/net/tcp6'), []);
  }
  assert.strictEqual((await request(sim.url, 'GET', '/__sim/stats')).status, 200);
});

test('bad arguments and bad scenarios exit 2 with a message on stderr', () => {
  const run = (...args) => spawnSync(process.execPath, [path.join(STUDIO, 'studio-sim'), ...args], { encoding: 'utf8', timeout: 10000, input: '' });
  const bad = run('--speed', '0');
  assert.strictEqual(bad.status, 2);
  assert.strictEqual(bad.stdout, '');
  assert.match(bad.stderr, /--speed/);
  const file = tmpFile('bad.json');
  fs.writeFileSync(file, JSON.stringify({ dropSockets: true }));
  const r = run('--scenario', file);
  assert.strictEqual(r.status, 2);
  assert.match(r.stderr, /unknown knob "dropSockets"/);
});

test('extract-schema --check: fresh output passes, a changed input is reported stale', { skip: !fs.existsSync(SPEC_DIR) && 'no ../shared/spec' }, () => {
  const tool = path.join(STUDIO, 'tools', 'extract-schema.js');
  const ok = spawnSync(process.execPath, [tool, '--check'], { encoding: 'utf8', timeout: 60000 });
  assert.strictEqual(ok.status, 0, ok.stderr);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spec-'));
  for (const f of fs.readdirSync(SPEC_DIR)) fs.copyFileSync(path.join(SPEC_DIR, f), path.join(dir, f));
  const frag = fs.readdirSync(dir).find((f) => f.includes('fragment'));
  const text = fs.readFileSync(path.join(dir, frag), 'utf8').replace('            - expert\n', '            - expert\n            - hybrid\n');
  fs.chmodSync(path.join(dir, frag), 0o644);
  fs.writeFileSync(path.join(dir, frag), text);
  const stale = spawnSync(process.execPath, [tool, '--check', dir], { encoding: 'utf8', timeout: 60000 });
  assert.strictEqual(stale.status, 1);
  assert.match(stale.stderr, /SetKerasParameterRequest\.json is stale/);
  assert.doesNotMatch(stale.stderr, /operations\.json/);
  // an engine added to the main document: the deployment operations' schema is stale too
  const main = path.join(dir, 'edge-impulse-studio-openapi.yml');
  fs.chmodSync(main, 0o644);
  fs.writeFileSync(main, fs.readFileSync(main, 'utf8').replace('        - nordic-axon\n', '        - nordic-axon\n        - coral-tpu\n'));
  const both = spawnSync(process.execPath, [tool, '--check', dir], { encoding: 'utf8', timeout: 60000 });
  assert.strictEqual(both.status, 1);
  assert.match(both.stderr, /operations\.json is stale/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('endless standard input (</dev/zero) is not spun on', { skip: !fs.existsSync('/dev/zero') && 'no /dev/zero' }, async () => {
  const { spawn } = require('child_process');
  const zero = fs.openSync('/dev/zero', 'r');
  const child = spawn(process.execPath, [path.join(STUDIO, 'studio-sim')], { stdio: [zero, 'pipe', 'pipe'] });
  fs.closeSync(zero);
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    await withTimeout(new Promise((resolve) => child.stderr.on('data', () => err.includes('never ends') && resolve())), 10000, 'warning');
  } finally {
    child.kill('SIGTERM');
    await withTimeout(exited, 5000, 'exit');
  }
});
