'use strict';
// Every response body the simulator produces validates against the 200 response schema
// of its operation in the official OpenAPI document (when ../shared/spec is present).

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { startSim, request, train, waitJob } = require('./helpers');

const SPEC = path.resolve(__dirname, '..', '..', '..', '..', 'shared', 'spec', 'edge-impulse-studio-openapi.yml');

function loadValidators() {
  const yaml = require('js-yaml');
  const Ajv = require('ajv');
  const { convert } = require('../tools/openapi-schema');
  const doc = yaml.load(fs.readFileSync(SPEC, 'utf8'));
  const definitions = convert(doc.components.schemas, { oneOfAsAnyOf: true });
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema({ $id: 'doc', definitions });
  const byOp = {};
  for (const item of Object.values(doc.paths)) {
    for (const op of Object.values(item)) {
      const schema = op && op.responses && op.responses['200'] && op.responses['200'].content && op.responses['200'].content['application/json'];
      if (op.operationId && schema && schema.schema.$ref) byOp[op.operationId] = schema.schema.$ref.split('/').pop();
    }
  }
  return (operationId, body) => {
    const validate = ajv.getSchema(`doc#/definitions/${byOp[operationId]}`);
    assert.ok(validate, `no schema for ${operationId}`);
    assert.ok(validate(body), `${operationId}: ${JSON.stringify(validate.errors && validate.errors.slice(0, 3))}`);
  };
}

test('response bodies match the official response schemas', { skip: !fs.existsSync(SPEC) && 'no ../shared/spec' }, async (t) => {
  const check = loadValidators();
  const sim = await startSim({ speed: 1000 });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}`;
  const L = sim.learn_id;
  const get = async (p) => (await sim.api('GET', p)).body;

  check('getKerasMetadata', await get(`${P}/training/keras/${L}/metadata`));
  const id = await train(sim, { trainingCycles: 3 });
  check('trainKerasJob', { success: true, id });
  check('listActiveJobs', await get(`${P}/jobs`));
  check('getJobStatus', await get(`${P}/jobs/${id}/status`));
  await waitJob(sim, id);
  check('getJobStatus', await get(`${P}/jobs/${id}/status`));
  check('getJobsLogs', await get(`${P}/jobs/${id}/stdout`));
  check('getKerasMetadata', await get(`${P}/training/keras/${L}/metadata`));
  check('getKeras', await get(`${P}/training/keras/${L}`));
  check('setKeras', (await sim.api('POST', `${P}/training/keras/${L}`, { trainingCycles: 4 })).body);
  check('getImpulse', await get(`${P}/impulse`));
  check('getProjectInfo', await get(P));
  check('getSocketToken', await get(`${P}/socket-token`));
  check('generateFeaturesJob', (await sim.api('POST', `${P}/jobs/generate-features`, { dspId: sim.dsp_id })).body);
  check('getPerformanceAllVariants', await get(`${P}/dsp/${sim.dsp_id}/performance`));
  const classify = (await sim.api('POST', `${P}/jobs/classify`, { modelVariants: ['int8', 'float32'] })).body;
  check('startClassifyJob', classify);
  await waitJob(sim, classify.id);
  check('getClassifyJobResult', await get(`${P}/classify/all/result?variant=float32`));
  check('getClassifyJobResult', await get(`${P}/classify/all/result?featureExplorerOnly=true`));
  const build = (await sim.api('POST', `${P}/jobs/build-ondevice-model?type=zip`, { engine: 'tflite-eon' })).body;
  check('buildOnDeviceModelJob', build);
  await waitJob(sim, build.id);
  check('getDeployment', await get(`${P}/deployment?type=zip`));
  check('getDeployment', await get(`${P}/deployment?type=wasm`));
  check('cancelJob', (await sim.api('POST', `${P}/jobs/build-ondevice-model?type=zip`, { engine: 'tidl' })).body); // success:false: GenericApiResponse
  const running = await train(sim, { trainingCycles: 30 });
  check('cancelJob', (await sim.api('POST', `${P}/jobs/${running}/cancel?forceCancel=true`)).body);
  const error = (await request(sim.url, 'GET', `${P}/impulse`)).body;
  check('cancelJob', error); // GenericApiResponse
});
