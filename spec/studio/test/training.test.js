'use strict';

const test = require('node:test');
const assert = require('node:assert');
const { planTraining } = require('../lib/training');
const { DEFAULT_KERAS } = require('../lib/fixtures');
const { startSim, train, waitJob, download } = require('./helpers');

const finalAcc = (cfg, seed = 1) => planTraining({ ...DEFAULT_KERAS, ...cfg }, { seed }).result.final.val_accuracy;

test('training model: deterministic for a request and seed', () => {
  const cfg = { learningRate: 0.003, batchSize: 24 };
  assert.deepStrictEqual(planTraining({ ...DEFAULT_KERAS, ...cfg }, { seed: 7 }).lines, planTraining({ ...DEFAULT_KERAS, ...cfg }, { seed: 7 }).lines);
  assert.notDeepStrictEqual(planTraining({ ...DEFAULT_KERAS, ...cfg }, { seed: 7 }).lines, planTraining({ ...DEFAULT_KERAS, ...cfg }, { seed: 8 }).lines);
});

test('training model: a learning-rate x batch-size sweep has one clear best (0.005, 32)', () => {
  const results = [];
  for (const learningRate of [0.0005, 0.001, 0.005, 0.01, 0.05]) {
    for (const batchSize of [16, 32, 64]) results.push({ learningRate, batchSize, acc: finalAcc({ learningRate, batchSize }) });
  }
  results.sort((a, b) => b.acc - a.acc);
  assert.deepStrictEqual([results[0].learningRate, results[0].batchSize], [0.005, 32]);
  assert.ok(results[0].acc - results[1].acc > 0.03, 'clear margin');
});

test('training model: more neurons help, trainingCycles sets the epoch count (default 30)', () => {
  assert.ok(finalAcc({ learningRate: 0.005, visualLayers: [{ type: 'dense', neurons: 64 }] }) > finalAcc({ learningRate: 0.005, visualLayers: [{ type: 'dense', neurons: 4 }] }));
  const epochs = (cfg) => planTraining({ ...DEFAULT_KERAS, ...cfg }, { seed: 1 }).lines.filter((l) => /^Epoch \d+\/\d+\n$/.test(l.text)).length;
  assert.strictEqual(epochs({ trainingCycles: 7 }), 7);
  assert.strictEqual(epochs({}), 30);
});

test('training through REST: metrics consistent with getKerasMetadata; divergence fails the job', async (t) => {
  const sim = await startSim({ speed: 1000 });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;
  const before = await sim.api('GET', `${P}/training/keras/${sim.learn_id}/metadata`);
  assert.strictEqual(before.body.hasTrainedModel, false);

  const id = await train(sim, { trainingCycles: 12, learningRate: 0.005, batchSize: 32 });
  await waitJob(sim, id);
  const log = await download(sim, id);
  const summaries = [...log.matchAll(/loss: ([\d.]+) - accuracy: ([\d.]+) - val_loss: ([\d.]+) - val_accuracy: ([\d.]+)/g)];
  assert.strictEqual(summaries.length, 12);
  const last = summaries[11];
  const meta = (await sim.api('GET', `${P}/training/keras/${sim.learn_id}/metadata`)).body;
  assert.strictEqual(meta.hasTrainedModel, true);
  for (const m of meta.modelValidationMetrics) {
    assert.strictEqual(m.accuracy, Number(last[4]));
    assert.strictEqual(m.loss, Number(last[3]));
    const diag = m.confusionMatrix.map((row, i) => row[i]);
    assert.ok(Math.abs(diag.reduce((a, b) => a + b, 0) / diag.length - m.accuracy * 100) < 0.05);
    m.confusionMatrix.forEach((row) => assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 100) < 0.05));
  }
  assert.deepStrictEqual(meta.tensorboardGraphs[0].data[1].values, summaries.map((s) => Number(s[4])));
  assert.strictEqual((await sim.api('GET', `${P}/training/keras/${sim.learn_id}`)).body.trained, true);

  const bad = await train(sim, { trainingCycles: 12, learningRate: 1 });
  const job = await waitJob(sim, bad);
  assert.strictEqual(job.finishedSuccessful, false);
  assert.match(await download(sim, bad), /loss: nan[\s\S]*Job failed \(see above\)\n$/);
  const after = (await sim.api('GET', `${P}/training/keras/${sim.learn_id}/metadata`)).body;
  assert.strictEqual(after.modelValidationMetrics[0].accuracy, Number(last[4]), 'a failed run keeps the last good metrics');
});

test('two learn blocks train in parallel', async (t) => {
  const sim = await startSim({ speed: 1000 });
  t.after(() => sim.stop());
  const [a, b] = await Promise.all(sim.learn_ids.map((l, i) => train(sim, { trainingCycles: 5, learningRate: i ? 0.01 : 0.005 }, l)));
  const [ja, jb] = await Promise.all([waitJob(sim, a), waitJob(sim, b)]);
  assert.ok(ja.finishedSuccessful && jb.finishedSuccessful);
});

test('training model: settings the script cannot use fail the job with a message', () => {
  for (const cfg of [{ trainingCycles: 0 }, { learningRate: -1 }, { batchSize: 0 }]) {
    const plan = planTraining({ ...DEFAULT_KERAS, ...cfg }, { seed: 1 });
    assert.strictEqual(plan.success, false);
    assert.match(plan.lines.map((l) => l.text).join(''), /ERROR: \w+ must be[\s\S]*Job failed \(see above\)\n$/);
  }
});
