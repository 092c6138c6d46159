'use strict';
// Classify, on-device performance and deployment: the jobs stream like training jobs and
// can fail, the builds are real ZIP files, the figures follow the model's layers.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const { spawnSync } = require('child_process');
const { startSim, EioClient, train, waitJob, download, tmpFile } = require('./helpers');
const { zip, crc32 } = require('../lib/zip');
const { onDevicePerformance } = require('../lib/performance');

const HAS_UNZIP = spawnSync('unzip', ['-v']).status === 0;

async function follow(sim, jobId) {
  const c = new EioClient(sim.url, { token: await sim.socketToken() });
  await c.hello();
  c.follow(jobId);
  const finished = await c.finished(jobId);
  const text = c.text(jobId);
  await c.close();
  return { success: finished.data.success, text };
}

async function getZip(sim, p) {
  const res = await fetch(sim.url + p, { headers: { 'x-api-key': sim.api_key }, signal: AbortSignal.timeout(10000) });
  return { status: res.status, type: res.headers.get('content-type'), disposition: res.headers.get('content-disposition'), data: Buffer.from(await res.arrayBuffer()) };
}

function unzipList(data) {
  const file = tmpFile('a.zip');
  fs.writeFileSync(file, data);
  const list = spawnSync('unzip', ['-Z1', file], { encoding: 'utf8' });
  const check = spawnSync('unzip', ['-tq', file], { encoding: 'utf8' });
  assert.strictEqual(check.status, 0, check.stdout + check.stderr);
  return { names: list.stdout.split('\n').filter(Boolean), file };
}

test('zip: CRC-32 check value, and an archive unzip lists and extracts byte for byte', { skip: !HAS_UNZIP && 'no unzip' }, () => {
  assert.strictEqual(crc32(Buffer.from('123456789')), 0xcbf43926);
  const bin = Buffer.from([0, 1, 2, 254, 255, 10, 13]);
  const { names, file } = unzipList(zip([{ name: 'dir/a.txt', data: 'hello\n' }, { name: 'b.bin', data: bin }]));
  assert.deepStrictEqual(names, ['dir/a.txt', 'b.bin']);
  assert.strictEqual(spawnSync('unzip', ['-p', file, 'dir/a.txt'], { encoding: 'utf8' }).stdout, 'hello\n');
  assert.deepStrictEqual(spawnSync('unzip', ['-p', file, 'b.bin']).stdout, bin);
});

test('performance: bigger layers need more RAM, ROM and time; float32 more than int8; EON less than TFLite', () => {
  const small = [{ type: 'dense', neurons: 20 }, { type: 'dense', neurons: 10 }];
  const big = [{ type: 'dense', neurons: 512 }, { type: 'dense', neurons: 256 }];
  const at = (layers, variant) => onDevicePerformance(layers, variant)[0];
  for (const variant of ['int8', 'float32']) {
    const s = at(small, variant);
    const b = at(big, variant);
    assert.strictEqual(s.isDefault, true);
    for (const engine of ['tflite', 'eon', 'eon_ram_optimized']) {
      assert.ok(b[engine].ramRequired > s[engine].ramRequired, `${variant} ${engine} RAM`);
      assert.ok(b[engine].romRequired > s[engine].romRequired, `${variant} ${engine} ROM`);
    }
    assert.ok(b.latency > s.latency, `${variant} latency`);
    assert.ok(b.eon.romRequired < b.tflite.romRequired && b.eon_ram_optimized.ramRequired < b.eon.ramRequired);
  }
  assert.ok(at(big, 'float32').eon.romRequired > 3 * at(big, 'int8').eon.romRequired);
  assert.ok(at(big, 'float32').latency > at(big, 'int8').latency);
});

test('getKerasMetadata and getPerformanceAllVariants report the figures of the trained layers', async (t) => {
  const sim = await startSim({ speed: 1000 });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;
  const layers = [{ type: 'dense', neurons: 128 }, { type: 'dense', neurons: 64 }];
  await waitJob(sim, await train(sim, { trainingCycles: 2, visualLayers: layers }));
  const meta = (await sim.api('GET', `${P}/training/keras/${sim.learn_id}/metadata`)).body;
  for (const m of meta.modelValidationMetrics) assert.deepStrictEqual(m.onDevicePerformance, onDevicePerformance(layers, m.type));
  const dsp = await sim.api('GET', `${P}/dsp/${sim.dsp_id}/performance`);
  assert.strictEqual(dsp.status, 200);
  assert.deepStrictEqual(dsp.body.performance.map((p) => p.mcu), meta.modelValidationMetrics[0].onDevicePerformance.map((p) => p.mcu));
  assert.ok(dsp.body.performance.every((p) => Number.isInteger(p.ram) && p.ram > 0 && Number.isInteger(p.latency)));
  assert.strictEqual((await sim.api('GET', `${P}/dsp/99/performance`)).status, 404);
  assert.match((await sim.api('GET', `${P}/dsp/x/performance`)).body.error, /dspId: must be integer/);
});

test('classify: fails without a trained model, then classifies each variant; results as the document shapes them', async (t) => {
  const sim = await startSim({ speed: 1000 });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;
  const early = await sim.api('POST', `${P}/jobs/classify`, {});
  const first = await follow(sim, early.body.id);
  assert.strictEqual(first.success, false);
  assert.match(first.text, /ERROR: The impulse has no trained model/);
  const none = await sim.api('GET', `${P}/classify/all/result`);
  assert.strictEqual(none.status, 200, 'Studio answers HTTP 200 with success:false');
  assert.strictEqual(none.body.success, false);
  assert.match(none.body.error, /No classification results for model variant int8/);

  await waitJob(sim, await train(sim, { trainingCycles: 20, learningRate: 0.005 }));
  const started = await sim.api('POST', `${P}/jobs/classify`, { modelVariants: ['int8', 'float32'] });
  const run = await follow(sim, started.body.id);
  assert.strictEqual(run.success, true);
  assert.strictEqual(run.text, await download(sim, started.body.id), 'the socket carried the whole log');
  assert.match(run.text, /Classifying test set with the float32 model OK\n[\s\S]*Job completed \(success\)\n$/);
  const valAcc = (await sim.api('GET', `${P}/training/keras/${sim.learn_id}/metadata`)).body.modelValidationMetrics[0].accuracy;
  for (const variant of ['int8', 'float32']) {
    const res = (await sim.api('GET', `${P}/classify/all/result?variant=${variant}`)).body;
    assert.strictEqual(res.success, true);
    assert.deepStrictEqual(res.availableVariants, ['int8', 'float32']);
    const { totalSummary, confusionMatrixValues, allLabels, accuracyScore } = res.accuracy;
    assert.strictEqual(totalSummary.good + totalSummary.bad, res.predictions.length);
    assert.strictEqual(totalSummary.good, res.predictions.filter((p) => p.predictionCorrect).length);
    assert.strictEqual(accuracyScore, totalSummary.good / res.predictions.length);
    assert.ok(Math.abs(accuracyScore - valAcc) < 0.08, `test accuracy ${accuracyScore} near validation ${valAcc}`);
    assert.deepStrictEqual(allLabels, ['idle', 'snake', 'updown', 'wave', 'uncertain']);
    for (const row of Object.values(confusionMatrixValues)) assert.ok(Math.abs(Object.values(row).reduce((a, b) => a + b, 0) - 100) < 0.1);
    assert.strictEqual(res.result.length, res.predictions.length);
  }
  const bad = await sim.api('GET', `${P}/classify/all/result?variant=int9`);
  assert.strictEqual(bad.status, 400);
  assert.match(bad.body.error, /variant: must be one of int8, float32, akida/);
  const badBody = await sim.api('POST', `${P}/jobs/classify`, { modelVariants: ['int16'] });
  assert.strictEqual(badBody.status, 400);
  assert.match(badBody.body.error, /modelVariants\[0\]: must be one of/);
});

test('failClassify: the classify job fails mid-way and the previous results stay', async (t) => {
  const sim = await startSim({ speed: 1000 });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;
  await waitJob(sim, await train(sim, { trainingCycles: 3 }));
  await waitJob(sim, (await sim.api('POST', `${P}/jobs/classify`, {})).body.id);
  const before = (await sim.api('GET', `${P}/classify/all/result`)).body;
  await sim.control('scenario', { failClassify: { message: 'ERROR: worker lost' } });
  const id = (await sim.api('POST', `${P}/jobs/classify`, {})).body.id;
  const run = await follow(sim, id);
  assert.strictEqual(run.success, false);
  assert.match(run.text, /\[200\/493\] Classifying\.\.\.\nERROR: worker lost\nApplication exited with code 1\n\nJob failed \(see above\)\n$/);
  assert.deepStrictEqual((await sim.api('GET', `${P}/classify/all/result`)).body, before);
});

test('build: streams its log, its version downloads as a ZIP of the C++ library; getDeployment and downloadBuild find it', { skip: !HAS_UNZIP && 'no unzip' }, async (t) => {
  const sim = await startSim({ speed: 1000 });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;
  const untrained = await sim.api('POST', `${P}/jobs/build-ondevice-model?type=zip`, { engine: 'tflite-eon' });
  assert.strictEqual(untrained.body.deploymentVersion, 1);
  assert.match((await follow(sim, untrained.body.id)).text, /ERROR: The impulse has no trained model/);
  assert.strictEqual((await getZip(sim, `${P}/deployment/history/1/download`)).status, 404);

  await waitJob(sim, await train(sim, { trainingCycles: 3 }));
  const res = await sim.api('POST', `${P}/jobs/build-ondevice-model?type=zip`, { engine: 'tflite-eon', modelType: 'int8' });
  assert.strictEqual(res.status, 200);
  assert.strictEqual(res.body.deploymentVersion, 2);
  const run = await follow(sim, res.body.id);
  assert.strictEqual(run.success, true);
  assert.match(run.text, /Compiling model with the EON Compiler\.\.\.\nCompiling model OK\n/);
  const art = await getZip(sim, `${P}/deployment/history/2/download`);
  assert.strictEqual(art.status, 200);
  assert.strictEqual(art.type, 'application/zip');
  assert.match(art.disposition, /filename="ei-gestures-simulated-zip-int8-v2\.zip"/);
  assert.match(run.text, new RegExp(`Creating archive OK \\(${art.data.length} bytes\\)`));
  const { names, file } = unzipList(art.data);
  assert.deepStrictEqual(names, [
    'README.txt', 'CMakeLists.txt', 'edge-impulse-sdk/classifier/ei_run_classifier.h', 'model-parameters/model_metadata.h',
    'model-parameters/model_variables.h', 'tflite-model/tflite_learn_5_compiled.h', 'tflite-model/tflite_learn_5_compiled.cpp',
  ]);
  assert.match(spawnSync('unzip', ['-p', file, 'model-parameters/model_metadata.h'], { encoding: 'utf8' }).stdout,
    /EI_CLASSIFIER_PROJECT_DEPLOY_VERSION\s+2\n[\s\S]*EI_CLASSIFIER_QUANTIZATION_ENABLED\s+1\n#define EI_CLASSIFIER_INFERENCING_ENGINE\s+EI_CLASSIFIER_TFLITE_EON/);
  assert.deepStrictEqual((await sim.api('GET', `${P}/deployment?type=zip&modelType=int8&engine=tflite-eon`)).body, { success: true, hasDeployment: true, version: 2 });
  assert.deepStrictEqual((await sim.api('GET', `${P}/deployment?type=zip&modelType=float32`)).body, { success: true, hasDeployment: false });
  assert.deepStrictEqual((await getZip(sim, `${P}/deployment/download?type=zip`)).data, art.data);
  assert.strictEqual((await getZip(sim, `${P}/deployment/download?type=wasm`)).status, 404);

  const tflite = await sim.api('POST', `${P}/jobs/build-ondevice-model?type=zip`, { engine: 'tflite', modelType: 'float32' });
  assert.strictEqual((await follow(sim, tflite.body.id)).success, true);
  const { names: tfNames } = unzipList((await getZip(sim, `${P}/deployment/history/${tflite.body.deploymentVersion}/download`)).data);
  assert.ok(tfNames.includes('tflite-model/tflite_learn_5.cpp'), tfNames.join(' '));
  for (const type of ['arduino', 'wasm']) {
    const b = await sim.api('POST', `${P}/jobs/build-ondevice-model?type=${type}`, { engine: 'tflite' });
    assert.strictEqual((await follow(sim, b.body.id)).success, true, type);
    const list = unzipList((await getZip(sim, `${P}/deployment/history/${b.body.deploymentVersion}/download`)).data).names;
    assert.ok(list.includes(type === 'wasm' ? 'edge-impulse-standalone.wasm' : 'gestures_inferencing/library.properties'), list.join(' '));
  }
});

test('build errors: invalid parameters 400, unsupported type or engine HTTP 200 success:false, failBuild mid-way', async (t) => {
  const sim = await startSim({ speed: 1000 });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;
  const B = `${P}/jobs/build-ondevice-model`;
  const noType = await sim.api('POST', B, { engine: 'tflite' });
  assert.deepStrictEqual([noType.status, noType.body.error], [400, 'Invalid parameters: type: is required']);
  const badEngine = await sim.api('POST', `${B}?type=zip`, { engine: 'eon' });
  assert.strictEqual(badEngine.status, 400);
  assert.match(badEngine.body.error, /^Invalid request body: engine: must be one of tflite, tflite-eon, /);
  const noEngine = await sim.api('POST', `${B}?type=zip`, { modelType: 'int8' });
  assert.deepStrictEqual([noEngine.status, noEngine.body.error], [400, 'Invalid request body: engine: is required']);
  const unsupported = await sim.api('POST', `${B}?type=zip`, { engine: 'tensorrt' });
  assert.deepStrictEqual([unsupported.status, unsupported.body.success], [200, false]);
  assert.match(unsupported.body.error, /Engine "tensorrt" is not supported by deployment type zip/);
  const unknown = await sim.api('POST', `${B}?type=esp32`, { engine: 'tflite' });
  assert.deepStrictEqual([unknown.status, unknown.body.success], [200, false]);
  assert.match(unknown.body.error, /Unknown deployment type "esp32"/);

  await waitJob(sim, await train(sim, { trainingCycles: 2 }));
  const good = await sim.api('POST', `${B}?type=zip`, { engine: 'tflite-eon' });
  await waitJob(sim, good.body.id);
  await sim.control('scenario', { failBuild: { message: 'ERROR: EON Compiler crashed' } });
  const failing = await sim.api('POST', `${B}?type=zip`, { engine: 'tflite-eon' });
  const run = await follow(sim, failing.body.id);
  assert.strictEqual(run.success, false);
  assert.match(run.text, /Writing templates OK\n\nCompiling model with the EON Compiler\.\.\.\nERROR: EON Compiler crashed\nApplication exited with code 1\n\nJob failed \(see above\)\n$/);
  assert.strictEqual((await getZip(sim, `${P}/deployment/history/${failing.body.deploymentVersion}/download`)).status, 404);
  assert.deepStrictEqual((await sim.api('GET', `${P}/deployment?type=zip`)).body, { success: true, hasDeployment: true, version: good.body.deploymentVersion });
  const notInt = await sim.api('GET', `${P}/deployment/history/latest/download`);
  assert.match(notInt.body.error, /deploymentVersion: must be integer/);
});

test('cutDownloads: a download is cut after N bytes (headers promised all), the next one is whole', async (t) => {
  const sim = await startSim({ speed: 1000, scenario: { cutDownloads: { afterBytes: 1000, count: 1 } } });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;
  await waitJob(sim, await train(sim, { trainingCycles: 2 }));
  const b = await sim.api('POST', `${P}/jobs/build-ondevice-model?type=zip`, { engine: 'tflite-eon' });
  await waitJob(sim, b.body.id);
  const p = `${P}/deployment/history/${b.body.deploymentVersion}/download`;
  const res = await fetch(sim.url + p, { headers: { 'x-api-key': sim.api_key }, signal: AbortSignal.timeout(10000) });
  const promised = Number(res.headers.get('content-length'));
  assert.ok(promised > 1000);
  let got = 0;
  await assert.rejects(async () => {
    for await (const chunk of res.body) got += chunk.length;
  });
  assert.strictEqual(got, 1000);
  const whole = await getZip(sim, p);
  assert.strictEqual(whole.data.length, promised);
});
