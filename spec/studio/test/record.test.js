'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const { startSim, request, EioClient, train, jobStatus, readRecord, tmpFile, until } = require('./helpers');

test('--record: one redacted JSON line per request and socket event, readable live', async (t) => {
  const file = tmpFile('record.jsonl');
  const sim = await startSim({ record: file });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;

  const body = { trainingCycles: 3, learningRate: 0.0050, visualLayers: [{ neurons: 20, type: 'dense' }], customParameters: { b: null, a: '1' } };
  const raw = JSON.stringify(body);
  const id = await train(sim, body);
  await request(sim.url, 'GET', `${P}/impulse`, undefined, { 'x-jwt-token': sim.jwt });
  await request(sim.url, 'GET', `${P}/impulse`, undefined, { cookie: `jwt=${sim.jwt}` });
  await request(sim.url, 'POST', '/v1/oauth/token', `grant_type=client_credentials&client_id=${sim.oauth_client_id}&client_secret=${sim.oauth_client_secret}`, { 'content-type': 'application/x-www-form-urlencoded' });
  await request(sim.url, 'GET', `${P}/jobs/${id}/stdout?limit=2&logLevel=info`, undefined, { authorization: 'Bearer some-token' });

  const token = await sim.socketToken();
  const c = new EioClient(sim.url, { token });
  await c.hello();
  c.send('2');
  c.follow(id, 0);
  await c.finished(id);
  await c.close();

  const lines = await until(() => {
    const l = readRecord(file);
    return l.some((e) => e.kind === 'ws-close') && l;
  }, 10000, 'ws-close recorded');
  const text = fs.readFileSync(file, 'utf8');
  for (const secret of [sim.api_key, sim.jwt, sim.oauth_client_secret, token, 'some-token']) {
    assert.ok(!text.includes(secret), 'secret leaked into the record');
  }

  const trainLine = lines.find((l) => l.kind === 'http' && l.operationId === 'trainKerasJob');
  assert.strictEqual(trainLine.method, 'POST');
  assert.strictEqual(trainLine.path, `${P}/jobs/train/keras/${sim.learn_id}`);
  assert.strictEqual(trainLine.status, 200);
  assert.deepStrictEqual(trainLine.body, body);
  assert.deepStrictEqual(Object.keys(trainLine.body.visualLayers[0]), ['neurons', 'type'], 'key order kept');
  assert.strictEqual(trainLine.raw, raw);
  assert.strictEqual(trainLine.headers['x-api-key'], '<redacted>');

  const http = lines.filter((l) => l.kind === 'http');
  assert.strictEqual(http.find((l) => l.headers['x-jwt-token']).headers['x-jwt-token'], '<redacted>');
  assert.strictEqual(http.find((l) => l.headers.cookie).headers.cookie, '<redacted>');
  const oauth = http.find((l) => l.path === '/v1/oauth/token');
  assert.strictEqual(oauth.body.client_secret, '<redacted>');
  assert.strictEqual(oauth.body.client_id, sim.oauth_client_id);
  const logs = http.find((l) => l.operationId === 'getJobsLogs');
  assert.deepStrictEqual(logs.query, { limit: '2', logLevel: 'info' });
  assert.strictEqual(logs.status, 401);
  assert.strictEqual(logs.headers.authorization, '<redacted>');

  const open = lines.find((l) => l.kind === 'ws-open');
  assert.deepStrictEqual(open.query, { EIO: '3', transport: 'websocket', onDemandLogs: 'true', token: '<redacted>' });
  const msgs = lines.filter((l) => l.kind === 'ws-message');
  assert.ok(msgs.some((m) => m.raw === '2'));
  const start = msgs.find((m) => m.event === 'start-log-stream');
  assert.strictEqual(start.raw, `42["start-log-stream",{"jobId":${id},"lastReceivedTimestamp":0}]`);
  assert.deepStrictEqual(start.data, { jobId: id, lastReceivedTimestamp: 0 });
  assert.ok(lines.find((l) => l.kind === 'ws-close').conn === open.conn);
});

test('--record marks the faults it made: outages, late and stalled calls, finished jobs; stats count junk', async (t) => {
  const file = tmpFile('faults.jsonl');
  const sim = await startSim({
    record: file,
    scenario: {
      slow: [{ match: 'getJobStatus', delayMs: 50 }], stall: [{ match: 'getImpulse', count: 1 }],
      junkFrames: { every: 2 }, unknownEvents: { every: 3 },
    },
  });
  t.after(() => sim.stop());
  const id = await train(sim, { trainingCycles: 2 });
  await jobStatus(sim, id);
  request(sim.url, 'GET', `/v1/api/${sim.project_id}/impulse`, undefined, { 'x-api-key': sim.api_key }).catch(() => {});
  const token = await sim.socketToken();
  const c = new EioClient(sim.url, { token });
  await c.hello();
  c.follow(id, 0);
  await c.finished(id);
  await c.close();
  await sim.control('unreachable', { seconds: 0.2 });
  const lines = await until(() => {
    const l = readRecord(file);
    return l.filter((e) => e.kind === 'outage').length === 2 && l.some((e) => e.operationId === 'getImpulse') && l;
  }, 10000, 'outage recorded');

  const outage = lines.filter((l) => l.kind === 'outage');
  assert.deepStrictEqual(outage.map((l) => l.down), [true, false]);
  assert.strictEqual(outage[0].seconds, 0.2);
  assert.deepStrictEqual(lines.filter((l) => l.kind === 'job-finished').map((l) => [l.job, l.success]), [[id, true]]);
  const status = lines.find((l) => l.operationId === 'getJobStatus');
  assert.strictEqual(status.delayedMs, 50);
  const stalled = lines.find((l) => l.operationId === 'getImpulse');
  assert.strictEqual(stalled.stalled, true);
  assert.strictEqual(stalled.status, null);
  const stats = (await sim.control('stats')).body;
  assert.ok(stats.junkFrames > 0 && stats.unknownEvents > 0, JSON.stringify(stats));
});
