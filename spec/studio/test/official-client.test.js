'use strict';
// Edge Impulse's own Node client drives a training job on the simulator and follows it
// to completion over the websocket: the proof that the simulator speaks like Studio.

const test = require('node:test');
const assert = require('node:assert');
const { EdgeImpulseApi } = require('edge-impulse-api');
const { startSim, withTimeout, tmpFile, readRecord } = require('./helpers');

test('official client: trainKerasJob + runJobUntilCompletion receives every log line', async (t) => {
  const sim = await startSim({ speed: 100 });
  t.after(() => sim.stop());
  const api = new EdgeImpulseApi({ endpoint: sim.url });
  await api.authenticate({ method: 'apiKey', apiKey: sim.api_key });

  const impulse = await api.impulse.getImpulse(sim.project_id);
  assert.strictEqual(impulse.impulse.learnBlocks[0].id, sim.learn_id);

  const started = await api.jobs.trainKerasJob(sim.project_id, sim.learn_id, {
    mode: 'visual', trainingCycles: 10, learningRate: 0.005, batchSize: 32,
    visualLayers: [{ type: 'dense', neurons: 20 }, { type: 'dropout', dropoutRate: 0.25 }],
  });
  assert.ok(started.id >= 12873488112);

  let received = '';
  await withTimeout(api.runJobUntilCompletion({ type: 'project', projectId: sim.project_id, jobId: started.id }, (d) => {
    received += d;
  }), 30000, 'runJobUntilCompletion');

  const log = await api.jobs.downloadJobsLogs(sim.project_id, started.id);
  assert.ok(log.includes('Epoch 10/10\n'));
  assert.strictEqual(received, `Connected to job\n${log}`);

  const status = await api.jobs.getJobStatus(sim.project_id, started.id);
  assert.strictEqual(status.job.finishedSuccessful, true);
  const meta = await api.learn.getKerasMetadata(sim.project_id, sim.learn_id);
  assert.strictEqual(meta.hasTrainedModel, true);
});

test('official client: a failing job makes runJobUntilCompletion throw', async (t) => {
  const sim = await startSim({ speed: 200 });
  t.after(() => sim.stop());
  const api = new EdgeImpulseApi({ endpoint: sim.url });
  await api.authenticate({ method: 'apiKey', apiKey: sim.api_key });
  // On failure the client keeps its socket and would reconnect for 60 s: track the
  // sockets it opens, then close them and park its retry loop.
  const sockets = [];
  const open = api.getProjectWebsocket.bind(api);
  api.getProjectWebsocket = async (pid) => {
    const ws = await open(pid);
    sockets.push(ws);
    return ws;
  };
  const started = await api.jobs.trainKerasJob(sim.project_id, sim.learn_id, { trainingCycles: 5, learningRate: 2 });
  let received = '';
  await assert.rejects(
    withTimeout(api.runJobUntilCompletion({ type: 'project', projectId: sim.project_id, jobId: started.id }, (d) => { received += d; }), 30000, 'run'),
    /Job failed/,
  );
  assert.match(received, /loss: nan/);
  api.getProjectWebsocket = () => Promise.reject(new Error('test over'));
  api.sleep = () => new Promise(() => {});
  sockets.forEach((ws) => ws.terminate());
});

test('official client: classify, performance and deployment, down to the ZIP bytes', async (t) => {
  const sim = await startSim({ speed: 200 });
  t.after(() => sim.stop());
  const api = new EdgeImpulseApi({ endpoint: sim.url });
  await api.authenticate({ method: 'apiKey', apiKey: sim.api_key });
  const run = (job) => withTimeout(api.runJobUntilCompletion({ type: 'project', projectId: sim.project_id, jobId: job.id }, () => {}), 30000, 'run');

  await run(await api.jobs.trainKerasJob(sim.project_id, sim.learn_id, { trainingCycles: 5, learningRate: 0.005 }));
  await run(await api.jobs.startClassifyJob(sim.project_id, { modelVariants: ['int8'] }));
  const result = await api.classify.getClassifyJobResult(sim.project_id, { variant: 'int8' });
  assert.deepStrictEqual(result.availableVariants, ['int8']);
  assert.strictEqual(result.accuracy.totalSummary.good + result.accuracy.totalSummary.bad, result.predictions.length);
  assert.strictEqual(result.result[0].sample.category, 'testing');

  const dsp = await api.dsp.getPerformanceAllVariants(sim.project_id, sim.dsp_id);
  assert.strictEqual(dsp.performance[0].mcu, 'cortex-m4f-80mhz');

  const build = await api.jobs.buildOnDeviceModelJob(sim.project_id, { engine: 'tflite-eon', modelType: 'int8' }, { type: 'zip' });
  await run(build);
  const info = await api.deployment.getDeployment(sim.project_id, { type: 'zip' });
  assert.deepStrictEqual([info.hasDeployment, info.version], [true, build.deploymentVersion]);
  const zip = await api.deployment.downloadHistoricDeployment(sim.project_id, build.deploymentVersion);
  assert.ok(Buffer.isBuffer(zip));
  assert.strictEqual(zip.readUInt32LE(0), 0x04034b50, 'a ZIP local file header');
  assert.strictEqual(zip.readUInt32LE(zip.length - 22), 0x06054b50, 'a ZIP end of central directory');
});

test('official client: a job of more than two simulated minutes, live, on one connection with real pings', async (t) => {
  // 50 epochs: ~138 simulated seconds, ~14 s at speed 10; the client pings every 5 s
  const record = tmpFile('record.jsonl');
  const sim = await startSim({ speed: 10, record });
  t.after(() => sim.stop());
  const api = new EdgeImpulseApi({ endpoint: sim.url });
  await api.authenticate({ method: 'apiKey', apiKey: sim.api_key });
  const started = await api.jobs.trainKerasJob(sim.project_id, sim.learn_id, { trainingCycles: 50 });
  let received = '';
  const arrivals = [];
  await withTimeout(api.runJobUntilCompletion({ type: 'project', projectId: sim.project_id, jobId: started.id }, (d) => {
    received += d;
    arrivals.push(Date.now());
  }), 120000, 'runJobUntilCompletion');

  const log = await api.jobs.downloadJobsLogs(sim.project_id, started.id);
  assert.ok(log.includes('Epoch 50/50\n'));
  assert.ok(arrivals.at(-1) - arrivals[1] >= 10000, 'the log arrived live, over the job\'s ~14 s');
  assert.strictEqual(received, `Connected to job\n${log}`, 'every line, once, in order; no reconnect');
  const status = (await api.jobs.getJobStatus(sim.project_id, started.id)).job;
  const simulated = (Date.parse(status.finished) - Date.parse(status.started)) / 1000 * 10;
  assert.ok(simulated >= 120, `${simulated.toFixed(0)} simulated seconds`);
  const rec = readRecord(record);
  const opens = rec.filter((r) => r.kind === 'ws-open');
  assert.strictEqual(opens.length, 1, 'one connect');
  assert.strictEqual(opens[0].eio, 3);
  const closes = rec.filter((r) => r.kind === 'ws-close' && r.t < Date.parse(status.finished) + 1000);
  assert.deepStrictEqual(closes, [], 'no disconnect while the job ran');
  const pings = rec.filter((r) => r.kind === 'ws-message' && r.raw === '2');
  assert.ok(pings.length >= 2, `${pings.length} client pings answered on the way`);
});
