'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { startSim, EioClient, train, waitJob, download, until } = require('./helpers');

test('socket', async (t) => {
  const sim = await startSim({ speed: 1000 });
  t.after(() => sim.stop());

  await t.test('Engine.IO v3 handshake, then hello with version 1', async () => {
    const c = new EioClient(sim.url, { token: await sim.socketToken() });
    await c.hello();
    assert.match(c.frames[0].raw, /^0\{"sid":/);
    assert.strictEqual(c.frames[1].raw, '40');
    assert.strictEqual(c.frames[2].raw, '42["hello",{"hello":{"version":1},"devices":[]}]');
    c.send('2');
    await until(() => c.frames.some((f) => f.raw === '3'), 10000, 'pong');
    await c.close();
  });

  await t.test('a bad token gets a hello without version, then a close', async () => {
    const c = new EioClient(sim.url, { token: 'not-a-token' });
    const hello = await c.hello();
    assert.deepStrictEqual(hello.data, { hello: { err: 'Invalid token' } });
    await until(() => c.closed, 10000, 'close');
  });

  await t.test('start-log-stream replays from the start, then live, then job-finished', async () => {
    const c = new EioClient(sim.url, { token: await sim.socketToken() });
    await c.hello();
    const id = await train(sim, { trainingCycles: 8 });
    c.follow(id, 0);
    const fin = await c.finished(id);
    assert.deepStrictEqual(fin.data, { success: true });
    assert.deepStrictEqual(c.events('job-finished').at(-1).data, { jobId: id, success: true });
    const log = await download(sim, id);
    assert.strictEqual(c.text(id), log);
    assert.ok(log.endsWith('\n'));
    const data = c.events(`job-data-${id}`);
    for (let i = 1; i < data.length; i++) assert.ok(data[i].data.timestamp > data[i - 1].data.timestamp, 'timestamps increase');
    // chunking: some frames hold half a line, some several lines
    assert.ok(data.some((f) => !f.data.data.endsWith('\n')), 'a frame ends mid-line');
    assert.ok(data.some((f) => f.data.data.split('\n').length > 2), 'a frame holds several lines');
    assert.match(log, /Epoch 8\/8\n\d+\/\d+ - \d+s - loss: [\d.]+ - accuracy: [\d.]+ - val_loss: [\d.]+ - val_accuracy: [\d.]+\n/);
    await c.close();
  });

  await t.test('lastReceivedTimestamp resumes after that frame', async () => {
    const id = await train(sim, { trainingCycles: 4 });
    await waitJob(sim, id);
    const a = new EioClient(sim.url, { token: await sim.socketToken() });
    await a.hello();
    a.follow(id, 0);
    await a.finished(id);
    const frames = a.events(`job-data-${id}`);
    const cut = Math.floor(frames.length / 2);
    const b = new EioClient(sim.url, { token: await sim.socketToken() });
    await b.hello();
    b.follow(id, frames[cut - 1].data.timestamp);
    await b.finished(id);
    assert.deepStrictEqual(b.events(`job-data-${id}`).map((f) => f.data), frames.slice(cut).map((f) => f.data));
    await a.close();
    await b.close();
  });

  await t.test('without onDemandLogs every job of the project is broadcast', async () => {
    const c = new EioClient(sim.url, { token: await sim.socketToken(), onDemand: false });
    await c.hello();
    const id = await train(sim, { trainingCycles: 3 });
    await c.finished(id);
    assert.strictEqual(c.text(id), await download(sim, id));
    await c.close();
  });

  await t.test('an expired socket token is refused', async () => {
    await sim.control('scenario', { socketTokenTtl: 0.2 });
    const res = await sim.api('GET', `/v1/api/${sim.project_id}/socket-token`);
    const expires = Date.parse(res.body.token.expires);
    assert.ok(expires - Date.now() < 1000 && expires - Date.now() > -500);
    await new Promise((r) => setTimeout(r, 300));
    const c = new EioClient(sim.url, { token: res.body.token.socketToken });
    assert.deepStrictEqual((await c.hello()).data, { hello: { err: 'Token expired' } });
    await until(() => c.closed, 10000, 'close');
    await sim.control('scenario', { socketTokenTtl: 3600 });
  });

  await t.test('a client sending 40 again is disconnected, as by any Socket.IO 4 server', async () => {
    const c = new EioClient(sim.url, { token: await sim.socketToken() });
    await c.hello();
    c.send('40');
    await until(() => c.closed, 10000, 'close');
    assert.strictEqual(c.events('hello').length, 1);
  });

  await t.test('each socket-token call issues a fresh token', async () => {
    assert.notStrictEqual(await sim.socketToken(), await sim.socketToken());
  });
});
