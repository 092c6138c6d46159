'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { startSim, request, train, waitJob, download, until, jobStatus } = require('./helpers');

test('rest', async (t) => {
  const sim = await startSim({ speed: 1000, scenario: { oauthTokenTtl: 2 } });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;
  const get = (path, headers) => request(sim.url, 'GET', path, undefined, headers);

  await t.test('auth: x-api-key, x-jwt-token, jwt cookie', async () => {
    assert.strictEqual((await get(P, { 'x-api-key': sim.api_key })).status, 200);
    assert.strictEqual((await get(P, { 'x-jwt-token': sim.jwt })).status, 200);
    assert.strictEqual((await get(P, { cookie: `other=1; jwt=${sim.jwt}` })).status, 200);
  });

  await t.test('auth: anything else is 401 without echoing the credential', async () => {
    for (const headers of [{}, { 'x-api-key': 'ei_wrongkey123' }, { 'x-jwt-token': 'a.b.c' }, { cookie: 'jwt=zzz' }, { authorization: 'Bearer nope-token' }]) {
      const res = await get(`${P}/impulse`, headers);
      assert.strictEqual(res.status, 401);
      assert.strictEqual(res.body.success, false);
      assert.ok(res.body.error);
      for (const v of Object.values(headers)) assert.ok(!res.text.includes(v.replace(/^.*[= ]/, '')), 'credential echoed');
    }
  });

  await t.test('auth: OAuth2 client credentials (form, JSON, Basic), expiring bearer', async () => {
    const form = `grant_type=client_credentials&client_id=${sim.oauth_client_id}&client_secret=${sim.oauth_client_secret}`;
    const a = await request(sim.url, 'POST', '/v1/oauth/token', form, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.strictEqual(a.status, 200);
    assert.strictEqual(a.body.token_type, 'Bearer');
    assert.strictEqual(a.body.expires_in, 2);
    const b = await request(sim.url, 'POST', '/v1/oauth/token', { grant_type: 'client_credentials', client_id: sim.oauth_client_id, client_secret: sim.oauth_client_secret });
    assert.strictEqual(b.status, 200);
    const basic = Buffer.from(`${sim.oauth_client_id}:${sim.oauth_client_secret}`).toString('base64');
    const c = await request(sim.url, 'POST', '/v1/oauth/token', 'grant_type=client_credentials', { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` });
    assert.strictEqual(c.status, 200);
    const bad = await request(sim.url, 'POST', '/v1/oauth/token', { grant_type: 'client_credentials', client_id: sim.oauth_client_id, client_secret: 'wrong-secret' });
    assert.strictEqual(bad.status, 401);
    assert.ok(!bad.text.includes('wrong-secret'));
    const ok = await get(`${P}/impulse`, { authorization: `Bearer ${a.body.access_token}` });
    assert.strictEqual(ok.status, 200);
    await new Promise((r) => setTimeout(r, 2100));
    assert.strictEqual((await get(`${P}/impulse`, { authorization: `Bearer ${a.body.access_token}` })).status, 401);
  });

  await t.test('unknown routes, projects, jobs and learn blocks are 404 JSON', async () => {
    for (const path of ['/v1/nope', `/v1/api/1/impulse`, `${P}/jobs/1/status`, `${P}/training/keras/999`, '/elsewhere']) {
      const res = await sim.api('GET', path);
      assert.strictEqual(res.status, 404, path);
      assert.strictEqual(res.body.success, false);
    }
  });

  await t.test('getImpulse: one DSP block and keras learn blocks with the ready-line ids', async () => {
    const { body } = await sim.api('GET', `${P}/impulse`);
    assert.strictEqual(body.impulse.dspBlocks[0].id, sim.dsp_id);
    assert.deepStrictEqual(body.impulse.learnBlocks.map((b) => b.id), sim.learn_ids);
    assert.strictEqual(body.impulse.learnBlocks[0].id, sim.learn_id);
    assert.ok(body.impulse.learnBlocks.every((b) => b.type === 'keras' && b.dsp[0] === sim.dsp_id));
  });

  await t.test('trainKerasJob validates the body and names the field', async () => {
    const cases = [
      [{ visualLayers: [{ type: 'dense' }, { type: 'dens' }] }, /visualLayers\[1\]\.type/],
      [{ trainingCycles: 1.5 }, /trainingCycles/],
      [{ customParameters: { a: 1 } }, /customParameters\.a/],
      [{ augmentationPolicySpectrogram: { freqMasking: 'low' } }, /augmentationPolicySpectrogram\.enabled/],
      [{ trainingProcessor: 'tpu' }, /trainingProcessor/],
      [{ mode: 'visual', learningRate: 'fast' }, /learningRate/],
    ];
    for (const [body, re] of cases) {
      const res = await sim.api('POST', `${P}/jobs/train/keras/${sim.learn_id}`, body);
      assert.strictEqual(res.status, 400, JSON.stringify(body));
      assert.strictEqual(res.body.success, false);
      assert.match(res.body.error, re);
    }
    const bad = await sim.api('POST', `${P}/jobs/train/keras/${sim.learn_id}`, '{"broken":');
    assert.strictEqual(bad.status, 400);
    const ok = await sim.api('POST', `${P}/jobs/train/keras/${sim.learn_id}`, {
      trainingCycles: 2, customParameters: { x: '1', y: null }, assertGpuUsagePercentage: null, trainingProcessor: 'cpu',
      blockParameters: { backbone: 'b' }, augmentationPolicySpectrogram: { enabled: true, freqMasking: 'low' },
    });
    assert.strictEqual(ok.status, 200);
    assert.strictEqual(ok.body.success, true);
    assert.ok(Number.isInteger(ok.body.id) && ok.body.id >= 12873488112);
  });

  await t.test('setKeras / getKeras: only given fields are set', async () => {
    const set = await sim.api('POST', `${P}/training/keras/7`, { learningRate: 0.01, batchSize: 16 });
    assert.deepStrictEqual(set.body, { success: true });
    const { body } = await sim.api('GET', `${P}/training/keras/7`);
    assert.strictEqual(body.learningRate, 0.01);
    assert.strictEqual(body.batchSize, 16);
    assert.strictEqual(body.trainingCycles, 30);
    assert.strictEqual((await sim.api('POST', `${P}/training/keras/7`, { batchSize: 'x' })).status, 400);
  });

  await t.test('job status, logs newest first with limit, download, list active', async () => {
    await sim.control('scenario', { speed: 50 }); // long enough to be seen running
    const id = await train(sim, { trainingCycles: 20 });
    await sim.control('scenario', { speed: null });
    const running = await sim.api('GET', `${P}/jobs`);
    assert.ok(running.body.jobs.some((j) => j.id === id));
    assert.strictEqual(running.body.totalJobCount, running.body.jobs.length);
    const job = await waitJob(sim, id);
    assert.strictEqual(job.finishedSuccessful, true);
    assert.strictEqual(job.category, 'Training model');
    for (const k of ['created', 'started', 'finished']) assert.ok(!Number.isNaN(Date.parse(job[k])), k);
    const logs = await sim.api('GET', `${P}/jobs/${id}/stdout?limit=5`);
    assert.strictEqual(logs.body.stdout.length, 5);
    assert.strictEqual(logs.body.stdout[0].data, 'Job completed (success)');
    const text = await download(sim, id);
    assert.strictEqual(logs.body.totalCount, text.split('\n').length - 1);
    const all = await sim.api('GET', `${P}/jobs/${id}/stdout`);
    assert.deepStrictEqual(all.body.stdout.map((l) => l.data).reverse().join('\n') + '\n', text);
    assert.ok(!(await sim.api('GET', `${P}/jobs`)).body.jobs.some((j) => j.id === id));
  });

  await t.test('cancelJob: the job ends failed with a cancel message', async () => {
    await sim.control('scenario', { speed: 5 });
    const id = await train(sim, { trainingCycles: 30 });
    const res = await sim.api('POST', `${P}/jobs/${id}/cancel`);
    assert.deepStrictEqual(res.body, { success: true });
    const job = await waitJob(sim, id, 15000);
    assert.strictEqual(job.finishedSuccessful, false);
    assert.match(await download(sim, id), /Job was cancelled by user\n$/);
    const forced = await train(sim, { trainingCycles: 30 });
    await sim.api('POST', `${P}/jobs/${forced}/cancel?forceCancel=true`);
    assert.strictEqual((await jobStatus(sim, forced)).finishedSuccessful, false);
    const again = await sim.api('POST', `${P}/jobs/${forced}/cancel`);
    assert.strictEqual(again.status, 200);
    assert.strictEqual(again.body.success, false);
    await sim.control('scenario', { speed: null });
  });

  await t.test('generateFeaturesJob: a shorter job with DSP output', async () => {
    const res = await sim.api('POST', `${P}/jobs/generate-features`, { dspId: sim.dsp_id });
    assert.strictEqual(res.body.success, true);
    const job = await waitJob(sim, res.body.id);
    assert.strictEqual(job.finishedSuccessful, true);
    assert.match(await download(sim, res.body.id), /Creating features[\s\S]*Job completed \(success\)\n$/);
    assert.strictEqual((await sim.api('POST', `${P}/jobs/generate-features`, { dspId: 99 })).status, 404);
    assert.strictEqual((await sim.api('POST', `${P}/jobs/generate-features`, {})).status, 400);
  });

  await t.test('getProjectInfo', async () => {
    const { body } = await sim.api('GET', P);
    assert.strictEqual(body.project.id, sim.project_id);
    assert.strictEqual(body.success, true);
  });

  await t.test('control: stats', async () => {
    const { body } = await sim.control('stats');
    assert.ok(body.requests > 10);
    assert.ok(body.jobs.length >= 3);
    await until(async () => (await sim.control('stats')).body.jobs.every((j) => j.state !== 'running'), 10000, 'jobs done');
  });
});
