'use strict';
// The simulated Keras training: a deterministic function of the effective learn-block
// configuration and the scenario seed. Produces the timed log lines of the job and the
// metrics getKerasMetadata reports afterwards.

const { createRng, hash32, canonical } = require('./rng');
const { CLASSES, SAMPLE_COUNT, FEATURE_COUNT } = require('./fixtures');

const CHANCE = 1 / CLASSES.length;
const PEAK = 0.985;
const BEST_LR = 0.005;
const BEST_BATCH = 32;
const DIVERGE_LR = 0.5;

const fmt = (x) => (Number.isFinite(x) ? x.toFixed(4) : 'nan');
const round4 = (x) => Math.round(x * 1e4) / 1e4;

function gauss(x, sigma) {
  return Math.exp(-(x * x) / (2 * sigma * sigma));
}

function capacity(layers) {
  let neurons = 0;
  for (const l of layers || []) {
    if (['dense', 'conv1d', 'conv2d'].includes(l.type)) neurons += (l.neurons || 0) * (l.type === 'dense' ? 1 : 1.5);
    else if (l.type && l.type.startsWith('transfer_')) neurons += 64;
  }
  return neurons;
}

// How good the final model can get (0..1) and how fast it converges, from the settings.
function quality(cfg) {
  const lr = cfg.useLearnedOptimizer ? BEST_LR : cfg.learningRate;
  const bs = cfg.batchSize || BEST_BATCH;
  const gLr = gauss(Math.log10(lr / BEST_LR), 0.45);
  const gBs = gauss(Math.log2(bs / BEST_BATCH), 1.2);
  const gLayers = 0.8 + 0.2 * (1 - Math.exp(-capacity(cfg.visualLayers) / 25));
  const rate = Math.sqrt(Math.min(Math.max(lr / BEST_LR, 0.02), 4)) * Math.pow(BEST_BATCH / bs, 0.3);
  return { q: Math.sqrt(gLr) * Math.pow(gBs, 0.3) * gLayers, rate };
}

// Dense layer summary lines, as Keras prints them.
function modelSummary(layers) {
  const rows = [];
  let width = FEATURE_COUNT;
  let total = 0;
  const counters = {};
  const name = (base) => {
    const n = counters[base] || 0;
    counters[base] = n + 1;
    return n ? `${base}_${n}` : base;
  };
  const row = (label, shape, params) => {
    rows.push(` ${label.padEnd(28)}${shape.padEnd(26)}${params}`);
    total += params;
  };
  for (const l of layers || []) {
    if (l.type === 'dropout') row(`${name('dropout')} (Dropout)`, `(None, ${width})`, 0);
    else if (l.type === 'flatten') row(`${name('flatten')} (Flatten)`, `(None, ${width})`, 0);
    else if (['dense', 'conv1d', 'conv2d'].includes(l.type) && l.neurons) {
      const params = width * l.neurons + l.neurons;
      row(`${name('dense')} (Dense)`, `(None, ${l.neurons})`, params);
      width = l.neurons;
    }
  }
  row('y_pred (Dense)', `(None, ${CLASSES.length})`, width * CLASSES.length + CLASSES.length);
  const rule = '_'.repeat(65);
  return [
    'Model: "sequential"', rule, ' Layer (type)                Output Shape              Param #', '='.repeat(65),
    ...rows, '='.repeat(65), `Total params: ${total}`, `Trainable params: ${total}`, 'Non-trainable params: 0', rule,
  ];
}

// Per-epoch metrics. Validation accuracy rises monotonically, so the last epoch is the
// best one and its values are what getKerasMetadata reports.
function history(cfg, rng, epochs) {
  const { q, rate } = quality(cfg);
  const finalCap = CHANCE + (PEAK - CHANCE) * q + rng.between(-0.002, 0.002);
  const out = [];
  for (let e = 1; e <= epochs; e++) {
    const p = 1 - Math.exp(-0.15 * rate * e);
    const valAcc = round4(CHANCE + (finalCap - CHANCE) * p);
    const acc = round4(Math.min(0.999, valAcc + 0.005 + 0.02 * p + rng.between(-0.004, 0.004)));
    out.push({
      epoch: e,
      loss: round4(-Math.log(acc) * 1.05 + 0.01 + rng.between(0, 0.01)),
      accuracy: acc,
      val_loss: round4(-Math.log(valAcc) * 1.1 + 0.02),
      val_accuracy: valAcc,
    });
  }
  return out;
}

function divergingHistory(rng, epochs) {
  const out = [];
  const nanAt = Math.min(3, epochs);
  for (let e = 1; e <= nanAt; e++) {
    const bad = e === nanAt;
    out.push({
      epoch: e,
      loss: bad ? NaN : round4(1.4 * Math.pow(25, e) * rng.between(0.9, 1.1)),
      accuracy: round4(CHANCE + rng.between(-0.01, 0.01)),
      val_loss: bad ? NaN : round4(1.5 * Math.pow(30, e)),
      val_accuracy: round4(CHANCE),
    });
  }
  return out;
}

function summaryLine(h, steps, seconds) {
  return `${steps}/${steps} - ${Math.max(0, Math.round(seconds))}s - loss: ${fmt(h.loss)} - accuracy: ${fmt(h.accuracy)} - val_loss: ${fmt(h.val_loss)} - val_accuracy: ${fmt(h.val_accuracy)}`;
}

function hugeText(bytes) {
  const unit = '0.0000, ';
  const head = 'Raw predictions: [';
  const body = unit.repeat(Math.ceil(bytes / unit.length)).slice(0, Math.max(0, bytes - head.length - 1));
  return (head + body + ']').slice(0, bytes);
}

// Settings the training script cannot run with (the schema allows them).
function configError(cfg) {
  if (!(cfg.trainingCycles >= 1)) return `trainingCycles must be at least 1 (got ${cfg.trainingCycles})`;
  if (!(cfg.learningRate > 0)) return `learningRate must be greater than 0 (got ${cfg.learningRate})`;
  if (cfg.batchSize !== undefined && !(cfg.batchSize >= 1)) return `batchSize must be at least 1 (got ${cfg.batchSize})`;
  if (cfg.trainTestSplit !== undefined && !(cfg.trainTestSplit > 0 && cfg.trainTestSplit < 1)) return `trainTestSplit must be between 0 and 1 (got ${cfg.trainTestSplit})`;
  return null;
}

// The timed log of a training job: {lines: [{at, text, mark?}], success, result}.
// `at` is in simulated seconds from the job's creation; every text ends with "\n".
function planTraining(cfg, { seed, failJob, hugeLine }) {
  const invalid = configError(cfg);
  if (invalid) return invalidPlan(invalid);
  const rng = createRng(hash32(`${seed}|${canonical(cfg)}`));
  const epochs = cfg.trainingCycles;
  const valCount = Math.round(SAMPLE_COUNT * (cfg.trainTestSplit || 0.2));
  const trainCount = SAMPLE_COUNT - valCount;
  const steps = Math.ceil(trainCount / (cfg.batchSize || BEST_BATCH));
  const epochSeconds = 0.5 + steps * 0.04;
  const diverges = !cfg.useLearnedOptimizer && cfg.learningRate >= DIVERGE_LR;
  const hist = diverges ? divergingHistory(rng, epochs) : history(cfg, rng, epochs);
  const failAt = failJob ? Math.min(epochs, failJob.atEpoch || Math.ceil(epochs / 2)) : null;

  const lines = [];
  let t = 0;
  const say = (text, dt = 0.05, mark) => {
    t += dt;
    lines.push(mark ? { at: t, text: `${text}\n`, mark } : { at: t, text: `${text}\n` });
  };
  say('Scheduling job in cluster...', 0);
  say('Container image pulled!', 1.0);
  say('Job started', 0.5, 'started');
  say('Splitting data into training and validation sets...', 0.5);
  say('Splitting data into training and validation sets OK', 1.0);
  say('', 0);
  say('Training model...', 0.5);
  say(`Training on ${trainCount} inputs, validating on ${valCount} inputs`, 0.3);
  for (const l of modelSummary(cfg.visualLayers)) say(l, 0.01);

  const failure = (message) => {
    say(message, 0.2);
    say('Application exited with code 1', 0.3);
    say('', 0);
    say('Job failed (see above)', 0.2);
    return { lines, success: false, result: null };
  };
  for (const h of hist) {
    say(`Epoch ${h.epoch}/${epochs}`, 0.05);
    if (failAt === h.epoch) return failure(failJob.message || 'ERROR: Training process was terminated unexpectedly');
    say(summaryLine(h, steps, epochSeconds), epochSeconds);
    if (hugeLine && h.epoch === hugeLine.atEpoch) say(hugeText(hugeLine.bytes), 0.05);
    if (Number.isNaN(h.loss)) {
      say(`Epoch ${h.epoch}: Invalid loss, terminating training`, 0.05);
      return failure(`ERROR: Training diverged: the loss became NaN (learning rate ${cfg.learningRate} is too high, try a lower one)`);
    }
  }
  say('Finished training', 0.5);
  say('', 0);
  say('Saving best performing model...', 0.5);
  say('Saving best performing model OK', 1.0);
  say('', 0);
  say('Converting TensorFlow Lite float32 model...', 0.5);
  say('Converting TensorFlow Lite int8 quantized model...', 1.0);
  say('Calculating performance metrics...', 1.0);
  say('Profiling float32 model...', 1.0);
  say('Profiling int8 model...', 1.0);
  say('Model training complete', 0.5);
  say('', 0);
  say('Job completed (success)', 0.2);
  const last = hist[hist.length - 1];
  return { lines, success: true, result: { history: hist, final: last } };
}

function invalidPlan(message) {
  const texts = ['Scheduling job in cluster...', 'Job started', `ERROR: ${message}`, 'Application exited with code 1', '', 'Job failed (see above)'];
  const lines = texts.map((t, i) => ({ at: i * 0.5, text: `${t}\n`, mark: i === 1 ? 'started' : undefined }));
  return { lines, success: false, result: null };
}

// The timed log of a generate-features job.
function planFeatures({ seed, dspId }) {
  const rng = createRng(hash32(`${seed}|features|${dspId}`));
  const lines = [];
  let t = 0;
  const say = (text, dt = 0.05, mark) => {
    t += dt;
    lines.push(mark ? { at: t, text: `${text}\n`, mark } : { at: t, text: `${text}\n` });
  };
  const files = 412;
  const per = Math.floor(SAMPLE_COUNT / CLASSES.length);
  say('Scheduling job in cluster...', 0);
  say('Job started', 1.0, 'started');
  say(`Creating windows from ${files} files...`, 0.5);
  for (let i = 100; i < files; i += 100) say(`[${String(i).padStart(3)}/${files}] Creating windows from files...`, rng.between(0.2, 0.4));
  say(`[${files}/${files}] Creating windows from files...`, 0.2);
  say(`Created ${SAMPLE_COUNT} windows: ${CLASSES.map((c) => `${c}: ${per}`).join(', ')}`, 0.1);
  say('', 0);
  say('Creating features', 0.3);
  for (let i = 500; i < SAMPLE_COUNT; i += 500) say(`[${String(i).padStart(4)}/${SAMPLE_COUNT}] Creating features...`, rng.between(0.3, 0.6));
  say(`[${SAMPLE_COUNT}/${SAMPLE_COUNT}] Creating features...`, 0.3);
  say('Created features', 0.1);
  say('', 0);
  say('Reducing dimensions for visualizations...', 0.5);
  say('Reducing dimensions for visualizations OK', 1.5);
  say('', 0);
  say('Job completed (success)', 0.2);
  return { lines, success: true, result: null };
}

module.exports = { planTraining, planFeatures, quality, summaryLine, BEST_LR, BEST_BATCH, DIVERGE_LR };
