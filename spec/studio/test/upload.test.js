'use strict';
// multipart/form-data uploads (uploadPretrainedModel), the `truncate` fault, and what
// request validation does with fields the schemas do not name.

const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const { startSim, readRecord, tmpFile, train } = require('./helpers');

test('uploads and truncated answers', async (t) => {
  const record = tmpFile('record.jsonl');
  const sim = await startSim({ record });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;
  const upload = async (form, headers = {}) => {
    const res = await fetch(`${sim.url}${P}/pretrained-model/upload`, {
      method: 'POST', body: form, headers: { 'x-api-key': sim.api_key, ...headers }, signal: AbortSignal.timeout(10000),
    });
    return { status: res.status, body: await res.json() };
  };
  const form = (fields) => {
    const f = new FormData();
    for (const [k, v] of fields) f.append(k, ...(Array.isArray(v) ? v : [v]));
    return f;
  };

  await t.test('uploadPretrainedModel: the file arrives whole (size and sha256 in the record) and starts a job', async () => {
    const bytes = crypto.randomBytes(3 * 1024 * 1024 + 7);
    const res = await upload(form([
      ['modelFile', [new Blob([bytes]), 'model.onnx']], ['modelFileName', 'model.onnx'], ['modelFileType', 'onnx'],
      ['overrideInputShape', '1'], ['overrideInputShape', '3'],
    ]));
    assert.strictEqual(res.status, 200, JSON.stringify(res.body));
    assert.ok(Number.isInteger(res.body.id));
    const entry = readRecord(record).filter((r) => r.operationId === 'uploadPretrainedModel').pop();
    assert.deepStrictEqual(entry.body.modelFile, {
      filename: 'model.onnx', contentType: 'application/octet-stream', size: bytes.length,
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    });
    assert.deepStrictEqual(entry.body.overrideInputShape, ['1', '3']);
  });

  await t.test('uploadPretrainedModel: the document schema decides (file parts, required fields, enums, integers)', async () => {
    const file = ['modelFile', [new Blob(['x']), 'm.tflite']];
    const cases = [
      [[['modelFile', 'text'], ['modelFileName', 'm'], ['modelFileType', 'tflite']], 'modelFile: must be a file part'],
      [[file, ['modelFileType', 'tflite']], 'modelFileName: is required'],
      [[file, ['modelFileName', 'm'], ['modelFileType', 'tf']], 'modelFileType: must be one of tflite, onnx, saved_model'],
      [[file, ['modelFileName', 'm'], ['modelFileType', 'onnx'], ['overrideInputShape', 'x']], 'overrideInputShape[0]: must be integer'],
      [[file, ['modelFileName', 'm'], ['modelFileName', 'n'], ['modelFileType', 'onnx']], 'modelFileName: must be string'],
    ];
    for (const [fields, message] of cases) {
      const res = await upload(form(fields));
      assert.strictEqual(res.status, 400, message);
      assert.strictEqual(res.body.error, `Invalid request body: ${message}`);
    }
    const single = await upload(form([file, ['modelFileName', 'm'], ['modelFileType', 'onnx'], ['overrideInputShape', '4']]));
    assert.strictEqual(single.status, 200, 'one part of an array field is an array of one');
  });

  await t.test('uploadPretrainedModel: a body that is not multipart, or is malformed, is refused', async () => {
    const json = await sim.api('POST', `${P}/pretrained-model/upload`, { modelFileName: 'm' });
    assert.strictEqual(json.status, 400);
    assert.strictEqual(json.body.error, 'Expected a multipart/form-data body');
    const bad = await upload('--b\r\nno headers', { 'content-type': 'multipart/form-data; boundary=b' });
    assert.strictEqual(bad.status, 400);
    assert.match(bad.body.error, /^Malformed multipart body: /);
  });

  await t.test('fields the schemas do not name are accepted, as Studio sets only the fields it knows', async () => {
    const id = await train(sim, { trainingCycles: 1, trainingProcessorX: 'gpu', visualLayers: [{ type: 'dense', neurons: 4, sparsity: 1 }] });
    assert.ok(Number.isInteger(id));
    const up = await upload(form([['modelFile', [new Blob(['x']), 'm']], ['modelFileName', 'm'], ['modelFileType', 'onnx'], ['quantize', 'yes']]));
    assert.strictEqual(up.status, 200);
  });

  await t.test('truncate: the answer announces its length, stops after `bytes` and the connection is reset', async () => {
    await sim.control('scenario', { truncate: [{ match: 'getImpulse', bytes: 10, count: 1 }] });
    await assert.rejects(sim.api('GET', `${P}/impulse`));
    assert.strictEqual((await sim.api('GET', `${P}/impulse`)).status, 200, 'count 1: the next answer is whole');
  });
});
