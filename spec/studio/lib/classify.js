'use strict';
// The simulated classify job (startClassifyJob): the test set classified by the trained
// model, one result per model variant, and the getClassifyJobResult body built from it.
// Test accuracy follows the model's validation accuracy, a little lower, and lower still
// for int8.

const { CLASSES, PROJECT_ID, impulse } = require('./fixtures');
const { createRng, hash32 } = require('./rng');
const { timeline } = require('./timeline');

const TEST_COUNT = 493;
const UNCERTAIN = 'uncertain';
const WINDOW_MS = 2000;
const CREATED = '2025-11-03T09:30:00.000Z';
const VARIANT_DROP = { float32: 0, int8: 0.012, akida: 0.03 };

function testLabel(i) {
  return CLASSES[i % CLASSES.length];
}

// Per-sample predictions of one variant; `accuracy` is the model's validation accuracy.
function predict(accuracy, variant, rng) {
  const target = Math.max(0, accuracy - 0.02 - VARIANT_DROP[variant] + rng.between(-0.01, 0.01));
  const out = [];
  for (let i = 0; i < TEST_COUNT; i++) {
    const label = testLabel(i);
    let prediction = label;
    if (rng.next() >= target) {
      const others = CLASSES.filter((c) => c !== label);
      prediction = rng.next() < 0.3 ? UNCERTAIN : others[rng.int(0, others.length - 1)];
    }
    out.push({ label, prediction });
  }
  return out;
}

// The timed log and, on success, {variants: {int8: [{label, prediction}], …}, learnBlock}.
// `trained`: the learn blocks of the impulse with a trained model, in impulse order.
function planClassify({ trained, variants, seed, fail, ordinal }) {
  const tl = timeline();
  tl.start();
  tl.say(`Classifying ${TEST_COUNT} samples of the test set`, 0.3);
  if (!trained.length) return tl.fail('ERROR: The impulse has no trained model; train a learn block first');
  const block = trained[0];
  const rng = createRng(hash32(`${seed}|classify|${block.metrics.accuracy}|${ordinal}`));
  tl.say('Generating features for the test set...', 0.5);
  tl.say('Generating features for the test set OK', 2.0);
  const result = { learnBlockId: block.id, predictions: {} };
  for (const variant of variants) {
    if (variant === 'akida') return tl.fail('ERROR: Model variant akida is not available for this learn block (available: int8, float32)');
    tl.say('', 0);
    tl.say(`Classifying test set with the ${variant} model...`, 0.3);
    for (let i = 100; i < TEST_COUNT; i += 100) {
      tl.say(`[${String(i).padStart(3)}/${TEST_COUNT}] Classifying...`, rng.between(0.3, 0.6));
      if (fail && i >= 200) return tl.fail(fail.message || 'ERROR: Classification worker lost');
    }
    tl.say(`[${TEST_COUNT}/${TEST_COUNT}] Classifying...`, 0.3);
    result.predictions[variant] = predict(block.metrics.accuracy, variant, rng);
    tl.say(`Classifying test set with the ${variant} model OK`, 0.1);
  }
  const plan = tl.succeed();
  return { ...plan, result };
}

function round2(x) {
  return Math.round(x * 100) / 100;
}

function accuracyOf(predictions) {
  const labels = [...CLASSES, UNCERTAIN];
  const perClass = {};
  const counts = {};
  for (const c of CLASSES) {
    perClass[c] = { good: 0, bad: 0 };
    counts[c] = Object.fromEntries(labels.map((l) => [l, 0]));
  }
  for (const p of predictions) {
    perClass[p.label][p.prediction === p.label ? 'good' : 'bad']++;
    counts[p.label][p.prediction]++;
  }
  const good = predictions.filter((p) => p.prediction === p.label).length;
  const matrix = {};
  const rows = [];
  for (const c of CLASSES) {
    const n = perClass[c].good + perClass[c].bad;
    matrix[c] = Object.fromEntries(labels.map((l) => [l, round2((100 * counts[c][l]) / n)]));
    rows.push(labels.map((l) => matrix[c][l]));
  }
  const recalls = CLASSES.map((c) => perClass[c].good / (perClass[c].good + perClass[c].bad));
  return {
    totalSummary: { good, bad: predictions.length - good },
    summaryPerClass: perClass,
    confusionMatrixValues: matrix,
    rows,
    allLabels: labels,
    accuracyScore: good / predictions.length,
    balancedAccuracyScore: recalls.reduce((a, b) => a + b, 0) / recalls.length,
  };
}

function sample(i, label) {
  const hash = hash32(`sample|${i}`).toString(16).padStart(8, '0');
  return {
    id: 20000 + i, filename: `${label}.${hash}`, signatureValidate: true, created: CREATED, lastModified: CREATED,
    category: 'testing', coldstorageFilename: `ingestion/${label}.${hash}.json`, label, intervalMs: 16, frequency: 62.5,
    originalIntervalMs: 16, originalFrequency: 62.5, deviceType: 'DISCO-L475VG-IOT01A',
    sensors: [{ name: 'accX', units: 'm/s2' }, { name: 'accY', units: 'm/s2' }, { name: 'accZ', units: 'm/s2' }],
    valuesCount: 125, totalLengthMs: WINDOW_MS, added: CREATED, boundingBoxes: [], boundingBoxesType: 'object_detection',
    chartType: 'chart', isDisabled: false, isProcessing: false, processingError: false, isCropped: false,
    projectId: PROJECT_ID, sha256Hash: hash.repeat(8),
  };
}

// Scores of one window: most weight on the prediction, none above the threshold when uncertain.
function scores(prediction) {
  const out = {};
  for (const c of CLASSES) out[c] = prediction === UNCERTAIN ? round4(1 / CLASSES.length) : c === prediction ? 0.9412 : round4(0.0588 / (CLASSES.length - 1));
  return out;
}

function round4(x) {
  return Math.round(x * 1e4) / 1e4;
}

// getClassifyJobResult body for one variant; `stored`: what planClassify returned.
function classifyResponse(stored, variant, { featureExplorerOnly } = {}) {
  const predictions = stored.predictions[variant];
  const learnBlock = impulse().learnBlocks.find((b) => b.id === stored.learnBlockId);
  const result = featureExplorerOnly ? [] : predictions.map((p, i) => ({
    sampleId: 20000 + i,
    sample: sample(i, p.label),
    classifications: [{
      learnBlock, result: [scores(p.prediction)], expectedLabels: [{ startIndex: 0, endIndex: 124, label: p.label }],
      minimumConfidenceRating: 0.6, thresholds: [],
    }],
  }));
  return {
    success: true,
    result,
    predictions: predictions.map((p, i) => ({
      sampleId: 20000 + i, startMs: 0, endMs: WINDOW_MS, label: p.label, prediction: p.prediction, predictionCorrect: p.prediction === p.label,
    })),
    accuracy: accuracyOf(predictions),
    additionalMetricsByLearnBlock: [{ learnBlockId: learnBlock.id, learnBlockName: learnBlock.name, additionalMetrics: [] }],
    availableVariants: Object.keys(stored.predictions),
  };
}

module.exports = { planClassify, classifyResponse, TEST_COUNT, UNCERTAIN };
