'use strict';
// One test per scenario knob, showing its effect.

const test = require('node:test');
const assert = require('node:assert');
const net = require('net');
const { startSim, request, EioClient, train, waitJob, download, until, jobStatus } = require('./helpers');
const { normalize } = require('../lib/scenario');

async function connect(sim, opts) {
  const c = new EioClient(sim.url, { token: await sim.socketToken(), ...opts });
  await c.hello();
  return c;
}

test('dropSocket once: the first connection is cut after K frames, abruptly', async (t) => {
  const sim = await startSim({ scenario: { dropSocket: { afterFrames: 12 } } });
  t.after(() => sim.stop());
  const c = await connect(sim);
  const id = await train(sim, { trainingCycles: 5 });
  c.follow(id);
  const code = await c.closedP;
  assert.strictEqual(c.frames.length, 12);
  assert.strictEqual(code, 1006, 'no close frame');
  const d = await connect(sim);
  d.follow(id);
  await d.finished(id);
  assert.strictEqual(d.text(id), await download(sim, id));
  await d.close();
});

test('dropSocket every: every connection is cut after K frames', async (t) => {
  const sim = await startSim({ scenario: { dropSocket: { afterFrames: 6, every: true } } });
  t.after(() => sim.stop());
  const id = await train(sim, { trainingCycles: 3 });
  for (let i = 0; i < 3; i++) {
    const c = await connect(sim);
    c.follow(id);
    await c.closedP;
    assert.strictEqual(c.frames.length, 6);
  }
});

test('http503 and http429: the first calls fail with JSON errors, then pass', async (t) => {
  const sim = await startSim({ scenario: { http503: 2, http429: { count: 1, retryAfter: 3 } } });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}/impulse`;
  const a = await sim.api('GET', P);
  const b = await sim.api('GET', P);
  assert.deepStrictEqual([a.status, b.status], [503, 503]);
  assert.strictEqual(a.body.success, false);
  const c = await sim.api('GET', P);
  assert.strictEqual(c.status, 429);
  assert.strictEqual(c.headers.get('retry-after'), '3');
  assert.strictEqual((await sim.api('GET', P)).status, 200);
  await sim.control('fail-next', { count: 1, status: 503 });
  assert.strictEqual((await sim.api('GET', P)).status, 503);
  assert.strictEqual((await sim.api('GET', P)).status, 200);
});

test('slow and stall: matching calls are delayed or never answered', async (t) => {
  const sim = await startSim({
    scenario: { slow: [{ match: 'getImpulse', delayMs: 800, count: 1 }], stall: [{ match: '/socket-token$', count: 1 }] },
  });
  t.after(() => sim.stop());
  let t0 = Date.now();
  assert.strictEqual((await sim.api('GET', `/v1/api/${sim.project_id}/impulse`)).status, 200);
  assert.ok(Date.now() - t0 >= 790, `delayed (${Date.now() - t0} ms)`);
  t0 = Date.now();
  await sim.api('GET', `/v1/api/${sim.project_id}/impulse`);
  assert.ok(Date.now() - t0 < 700, `count consumed (${Date.now() - t0} ms)`);
  await assert.rejects(fetch(`${sim.url}/v1/api/${sim.project_id}/socket-token`, {
    headers: { 'x-api-key': sim.api_key }, signal: AbortSignal.timeout(500),
  }), /timeout|abort/i);
  assert.ok(await sim.socketToken(), 'the next call is answered');
});

test('junkFrames and unknownEvents: malformed frames and unrelated events interleaved', async (t) => {
  const sim = await startSim({ scenario: { junkFrames: { every: 3 }, unknownEvents: { every: 4 } } });
  t.after(() => sim.stop());
  const c = await connect(sim);
  const id = await train(sim, { trainingCycles: 4 });
  c.follow(id);
  await c.finished(id);
  assert.ok(c.frames.some((f) => f.binary), 'binary junk');
  assert.ok(c.frames.some((f) => f.malformed || f.raw === '42' || f.raw === '42[broken'), 'malformed text');
  assert.ok(c.frames.some((f) => f.event === 'device-connected' || f.event === 'device-disconnected' || f.event === 'studio-announcement' || f.event === 'job-progress'), 'unknown events');
  assert.strictEqual(c.text(id), await download(sim, id));
  await c.close();
});

test('replayFromStart: lastReceivedTimestamp is ignored', async (t) => {
  const sim = await startSim({ scenario: { replayFromStart: true } });
  t.after(() => sim.stop());
  const id = await train(sim, { trainingCycles: 2 });
  await waitJob(sim, id);
  const c = await connect(sim);
  c.follow(id, Date.now() + 1e9);
  await c.finished(id);
  assert.strictEqual(c.text(id), await download(sim, id));
  await c.close();
});

test('omitTimestamps: job-data payloads carry only data', async (t) => {
  const sim = await startSim({ scenario: { omitTimestamps: true } });
  t.after(() => sim.stop());
  const c = await connect(sim);
  const id = await train(sim, { trainingCycles: 2 });
  c.follow(id);
  await c.finished(id);
  const data = c.events(`job-data-${id}`);
  assert.ok(data.length > 10);
  assert.ok(data.every((f) => Object.keys(f.data).join() === 'data'));
  await c.close();
});

test('noJobFinished: only the REST status tells the job ended', async (t) => {
  const sim = await startSim({ scenario: { noJobFinished: true } });
  t.after(() => sim.stop());
  const c = await connect(sim);
  const id = await train(sim, { trainingCycles: 2 });
  c.follow(id);
  const job = await waitJob(sim, id);
  assert.strictEqual(job.finishedSuccessful, true);
  await until(async () => c.text(id) === await download(sim, id), 10000, 'all data');
  assert.strictEqual(c.events(/^job-finished/).length, 0);
  await c.close();
});

test('failJob: a job fails whatever its parameters (optionally only the nth job)', async (t) => {
  const sim = await startSim({ scenario: { failJob: { atEpoch: 2, message: 'ERROR: simulated worker crash', nth: 2 } } });
  t.after(() => sim.stop());
  const first = await train(sim, { trainingCycles: 4, learningRate: 0.005 });
  const second = await train(sim, { trainingCycles: 4, learningRate: 0.005 });
  assert.strictEqual((await waitJob(sim, first)).finishedSuccessful, true);
  assert.strictEqual((await waitJob(sim, second)).finishedSuccessful, false);
  const log = await download(sim, second);
  assert.match(log, /Epoch 2\/4\nERROR: simulated worker crash\n[\s\S]*Job failed \(see above\)\n$/);
  const c = await connect(sim);
  c.follow(second);
  assert.deepStrictEqual((await c.finished(second)).data, { success: false });
  await c.close();
});

test('hugeLine: a 1 MB log line inside the output', async (t) => {
  const sim = await startSim({ scenario: { hugeLine: { bytes: 1024 * 1024, atEpoch: 1 } } });
  t.after(() => sim.stop());
  const c = await connect(sim);
  const id = await train(sim, { trainingCycles: 2 });
  c.follow(id);
  await c.finished(id);
  const lines = c.text(id).split('\n');
  assert.ok(lines.some((l) => l.length === 1024 * 1024));
  assert.strictEqual(c.text(id), await download(sim, id));
  await c.close();
});

test('fastStream: N lines as fast as possible, then the job finishes', async (t) => {
  const N = 50000;
  const sim = await startSim({ scenario: { fastStream: { lines: N } } });
  t.after(() => sim.stop());
  const c = await connect(sim);
  const t0 = process.hrtime.bigint();
  const id = await train(sim, { trainingCycles: 1 });
  c.follow(id);
  await c.finished(id, 30000);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const events = c.events(`job-data-${id}`).length;
  assert.strictEqual(events, N + 3);
  const text = c.text(id);
  assert.strictEqual(text.split('\n').length - 1, N + 3);
  assert.ok(text.includes(`Stream line ${N} of ${N}\n`));
  t.diagnostic(`${events} events in ${secs.toFixed(3)} s (${Math.round(events / secs)}/s, parsing client)`);
  assert.strictEqual((await jobStatus(sim, id)).finishedSuccessful, true);
  await c.close();
});

test('steadyStream: N lines at a steady rate, each stamped with the monotonic microsecond it was sent at', async (t) => {
  const N = 200;
  const rate = 400;
  const sim = await startSim({ scenario: { steadyStream: { rate, lines: N } } });
  t.after(() => sim.stop());
  const c = await connect(sim);
  const before = process.hrtime.bigint() / 1000n;
  const id = await train(sim, { trainingCycles: 1 });
  c.follow(id);
  await c.finished(id, 30000);
  const after = process.hrtime.bigint() / 1000n;
  const text = c.text(id);
  assert.strictEqual(text.split('\n').length - 1, N + 3);
  const stamps = [...text.matchAll(/^Steady line (\d+) of (\d+) at (\d+)$/gm)].map((m, k) => {
    assert.strictEqual(Number(m[1]), k + 1);
    assert.strictEqual(Number(m[2]), N);
    return BigInt(m[3]);
  });
  assert.strictEqual(stamps.length, N);
  for (let k = 1; k < N; k++) assert.ok(stamps[k] >= stamps[k - 1], `stamp ${k + 1} goes back`);
  // the same clock as this process's hrtime: every stamp falls between the two readings
  assert.ok(stamps[0] >= before && stamps[N - 1] <= after, 'stamps on this process\'s monotonic clock');
  const span = Number(stamps[N - 1] - stamps[0]) / 1e6;
  const want = (N - 1) / rate;
  assert.ok(span >= want * 0.9 && span <= want * 3 + 0.5, `${N} lines over ${span.toFixed(3)} s, want ${want.toFixed(3)} s`);
  // steady: no tenth of a second holds much more than its share (a timer that fired late
  // on a busy machine catches up at once, so up to twice the share is allowed)
  const perTenth = new Map();
  for (const s of stamps) {
    const k = Number((s - stamps[0]) / 100000n);
    perTenth.set(k, (perTenth.get(k) || 0) + 1);
  }
  const most = Math.max(...perTenth.values());
  assert.ok(most <= 2 * rate / 10 + 5, `at most ~${rate / 10} lines per 100 ms, saw ${most}`);
  t.diagnostic(`${N} lines over ${span.toFixed(3)} s`);
  assert.strictEqual((await jobStatus(sim, id)).finishedSuccessful, true);
  await c.close();
});

test('steadyStream: a rate that is not a positive number is refused', () => {
  assert.throws(() => normalize({ steadyStream: { rate: 0 } }), /steadyStream.rate/);
  assert.deepStrictEqual(normalize({ steadyStream: true }).steadyStream, { rate: 1000, lines: 10000 });
});

test('unreachable: connections are refused for S seconds after a trigger', async (t) => {
  const sim = await startSim({ scenario: { unreachable: { afterRequests: 2, forSeconds: 1 } } });
  t.after(() => sim.stop());
  const c = await connect(sim); // socket-token = request 1
  assert.strictEqual((await sim.api('GET', `/v1/api/${sim.project_id}`)).status, 200); // request 2 triggers
  await until(() => c.closed, 10000, 'socket cut');
  const port = Number(new URL(sim.url).port);
  const refused = await new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(false); });
    s.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
  });
  assert.ok(refused, 'ECONNREFUSED while down');
  await assert.rejects(request(sim.url, 'GET', '/__sim/stats'));
  await until(async () => {
    try {
      return (await sim.control('stats')).status === 200;
    } catch (e) {
      return false;
    }
  }, 10000, 'back up', 50);
  await sim.control('unreachable', { seconds: 0.5 });
  await until(async () => {
    try {
      await request(sim.url, 'GET', '/__sim/stats');
      return false;
    } catch (e) {
      return true;
    }
  }, 10000, 'down via control', 20);
  await until(async () => {
    try {
      return (await sim.control('stats')).status === 200;
    } catch (e) {
      return false;
    }
  }, 10000, 'back up again', 50);
});

test('seed: changes the simulated results', async (t) => {
  const a = await startSim({ scenario: { seed: 1 } });
  const b = await startSim({ scenario: { seed: 2 } });
  t.after(() => Promise.all([a.stop(), b.stop()]));
  const run = async (sim) => {
    const id = await train(sim, { trainingCycles: 3 });
    await waitJob(sim, id);
    return download(sim, id);
  };
  const [la, lb] = await Promise.all([run(a), run(b)]);
  assert.notStrictEqual(la, lb);
  assert.strictEqual(la.split('\n').filter((l) => l.startsWith('Epoch')).length, 3);
});

test('serverPingMs: the server pings, the client may answer 3', async (t) => {
  const sim = await startSim({ scenario: { serverPingMs: 50 } });
  t.after(() => sim.stop());
  const c = await connect(sim);
  await until(() => c.frames.filter((f) => f.raw === '2').length >= 2, 10000, 'server pings');
  c.send('3');
  await c.close();
});

test('control: drop-sockets cuts every websocket now; scenario can be read and patched', async (t) => {
  const sim = await startSim();
  t.after(() => sim.stop());
  const a = await connect(sim);
  const b = await connect(sim, { onDemand: false });
  const res = await sim.control('drop-sockets', {});
  assert.strictEqual(res.body.dropped, 2);
  await Promise.all([a.closedP, b.closedP]);
  const patched = await sim.control('scenario', { omitTimestamps: true });
  assert.strictEqual(patched.body.scenario.omitTimestamps, true);
  assert.strictEqual((await sim.control('scenario', { nope: 1 })).status, 400);
  const stats = (await sim.control('stats')).body;
  assert.strictEqual(stats.wsConnections, 2);
  assert.strictEqual(stats.socketsOpen, 0);
});

test('unreachable afterFrames / afterSeconds: triggered by the stream or by time', async (t) => {
  const sim = await startSim({ scenario: { unreachable: { afterFrames: 5, forSeconds: 0.3 } } });
  t.after(() => sim.stop());
  const c = await connect(sim);
  const id = await train(sim, { trainingCycles: 3 });
  c.follow(id);
  await until(() => c.closed, 10000, 'socket cut by the unreachable window');
  assert.ok(c.events(`job-data-${id}`).length >= 5);
  await until(async () => {
    try {
      return (await sim.control('stats')).body.unreachable === false;
    } catch (e) {
      return false;
    }
  }, 10000, 'back up', 50);
  await sim.control('scenario', { unreachable: { afterSeconds: 0.2, forSeconds: 0.3 } });
  await until(async () => {
    try {
      await request(sim.url, 'GET', '/__sim/stats');
      return false;
    } catch (e) {
      return true;
    }
  }, 10000, 'down after 0.2 s', 20);
});

test('errorsAs200: REST errors come as HTTP 200 with success:false', async (t) => {
  const sim = await startSim({ scenario: { errorsAs200: true, http503: 1 } });
  t.after(() => sim.stop());
  assert.strictEqual((await sim.api('GET', `/v1/api/${sim.project_id}`)).status, 503, 'transient errors keep their status');
  const bad = await sim.api('POST', `/v1/api/${sim.project_id}/jobs/train/keras/${sim.learn_id}`, { trainingCycles: 'x' });
  assert.strictEqual(bad.status, 200);
  assert.strictEqual(bad.body.success, false);
  assert.match(bad.body.error, /trainingCycles/);
  const unauth = await request(sim.url, 'GET', `/v1/api/${sim.project_id}`);
  assert.deepStrictEqual([unauth.status, unauth.body.success], [200, false]);
});
