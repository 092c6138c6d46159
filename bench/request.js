'use strict';
// Request path in Node: per-call time of ajv validation (the simulator's options) +
// JSON.stringify for the same 20-layer SetKerasParameterRequest as bench/request.lua.
//
//   node bench/request.js [BATCHES] [SECONDS_PER_BATCH]
//
// Prints one line: "request-node <median us/call> <min> <max> <calls/batch>".
const path = require('path');
const studio = path.join(__dirname, '..', 'spec', 'studio');
const Ajv = require(path.join(studio, 'node_modules', 'ajv'));

const batches = Number(process.argv[2] || 5);
const seconds = Number(process.argv[3] || 1);

function request() {
  const layers = [];
  for (let i = 1; i <= 20; i++) {
    const k = i % 4;
    if (k === 1) layers.push({ type: 'conv1d', neurons: 8 * i, kernelSize: 3, stack: 1 });
    else if (k === 2) layers.push({ type: 'dropout', dropoutRate: 0.25 });
    else if (k === 3) layers.push({ type: 'dense', neurons: 16 + i });
    else layers.push({ type: 'dense', neurons: 32, enabled: true });
  }
  return { mode: 'visual', trainingCycles: 30, learningRate: 0.005, batchSize: 32, visualLayers: layers };
}

const ajv = new Ajv({ allErrors: false, strict: true, validateFormats: false });
const validate = ajv.compile(require(path.join(studio, 'schema', 'SetKerasParameterRequest.json')));
const t = request();
let sink = 0;
function call() {
  if (!validate(t)) throw new Error('invalid');
  sink += JSON.stringify(t).length;
}

let calls = 1000;
let t0 = process.hrtime.bigint();
for (let i = 0; i < calls; i++) call();
const dt = Number(process.hrtime.bigint() - t0) / 1e9;
calls = Math.max(1000, Math.floor((calls * seconds) / Math.max(dt, 1e-6)));
const samples = [];
for (let b = 0; b < batches; b++) {
  t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) call();
  samples.push(Number(process.hrtime.bigint() - t0) / 1e3 / calls);
}
samples.sort((a, b) => a - b);
if (!sink) throw new Error('nothing encoded');
const fmt = (x) => x.toFixed(3);
process.stdout.write(`request-node ${fmt(samples[(batches - 1) >> 1])} ${fmt(samples[0])} ${fmt(samples[batches - 1])} ${calls}\n`);
