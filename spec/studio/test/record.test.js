'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const { startSim, request, EioClient, train, readRecord, tmpFile, until } = require('./helpers');

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
