'use strict';
// The simulated project (a 4-class accelerometer gesture project) and builders of the
// response objects whose shapes follow the official OpenAPI document.

const PROJECT_ID = 274914;
const INPUT_ID = 2;
const DSP_ID = 3;
const LEARN_IDS = [5, 7];
const CLASSES = ['idle', 'snake', 'updown', 'wave'];
const SAMPLE_COUNT = 1972;
const FEATURE_COUNT = 33;
const CREATED = '2025-11-03T09:21:44.000Z';

const DEFAULT_KERAS = {
  mode: 'visual',
  minimumConfidenceRating: 0.6,
  selectedModelType: 'int8',
  script: '',
  visualLayers: [
    { type: 'dense', neurons: 20 },
    { type: 'dense', neurons: 10 },
  ],
  trainingCycles: 30,
  learningRate: 0.0005,
  batchSize: 32,
  trainTestSplit: 0.2,
  autoClassWeights: false,
  useLearnedOptimizer: false,
  augmentationPolicyImage: 'none',
  profileInt8: true,
  skipEmbeddingsAndMemory: false,
  showAdvancedTrainingSettings: false,
  showAugmentationTrainingSettings: false,
};

function impulse() {
  return {
    id: 1,
    name: 'Impulse #1',
    type: 'default',
    inputBlocks: [{
      id: INPUT_ID, type: 'time-series', name: 'Time series', title: 'Time series data',
      windowSizeMs: 2000, windowIncreaseMs: 80, frequencyHz: 62.5, padZeros: true,
    }],
    dspBlocks: [{
      id: DSP_ID, type: 'spectral-analysis', name: 'Spectral features', title: 'Spectral Analysis',
      axes: ['accX', 'accY', 'accZ'], input: INPUT_ID, implementationVersion: 4,
    }],
    learnBlocks: LEARN_IDS.map((id, i) => ({
      id, type: 'keras', name: i ? `Classifier ${i + 1}` : 'Classifier', dsp: [DSP_ID], title: 'Classification',
    })),
    postProcessingBlocks: [],
  };
}

function kerasResponse(block) {
  const cfg = block.config;
  const out = {
    success: true,
    dependencies: { classes: CLASSES, blockNames: ['Spectral features'], featureCount: FEATURE_COUNT, sampleCount: SAMPLE_COUNT, outputClasses: CLASSES },
    trained: Boolean(block.metrics),
    name: block.name,
    type: 'keras',
    ...cfg,
    defaultBatchSize: 32,
    shape: `(${FEATURE_COUNT},)`,
    transferLearningModels: [],
    thresholds: [{ key: 'minScore', description: 'Minimum confidence score', helpText: 'Score threshold below which a window is uncertain', value: cfg.minimumConfidenceRating, suggestedValue: 0.6 }],
  };
  return out;
}

// Confusion matrix in percent per true class; the diagonal averages to `accuracy`.
function confusion(accuracy, rng) {
  const n = CLASSES.length;
  const diag = CLASSES.map(() => rng.between(-0.02, 0.02));
  const mean = diag.reduce((a, b) => a + b, 0) / n;
  return CLASSES.map((c, i) => {
    const d = Math.min(100, Math.max(0, (accuracy + diag[i] - mean) * 100));
    const rest = 100 - d;
    return CLASSES.map((c2, j) => (i === j ? round2(d) : round2(rest / (n - 1))));
  });
}

function round2(x) {
  return Math.round(x * 100) / 100;
}

function report(matrix) {
  const support = Math.round(SAMPLE_COUNT * 0.2 / CLASSES.length);
  const out = {};
  let f1Sum = 0;
  CLASSES.forEach((c, i) => {
    const recall = matrix[i][i] / 100;
    const colSum = matrix.reduce((a, row) => a + row[i], 0) / 100;
    const precision = colSum ? recall / colSum : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    f1Sum += f1;
    out[String(i)] = { precision, recall, 'f1-score': f1, support };
  });
  const avg = { precision: f1Sum / CLASSES.length, recall: f1Sum / CLASSES.length, 'f1-score': f1Sum / CLASSES.length, support: support * CLASSES.length };
  out['macro avg'] = avg;
  out['weighted avg'] = avg;
  return out;
}


// getKerasMetadata body; `metrics` are those of the last successful training.
function kerasMetadata(block) {
  const m = block.metrics;
  const base = {
    success: true,
    created: m ? m.created : CREATED,
    layers: [{
      input: { shape: FEATURE_COUNT, name: 'x_input:0', type: "<dtype: 'float32'>" },
      output: { shape: CLASSES.length, name: 'Identity:0', type: "<dtype: 'float32'>" },
    }],
    classNames: CLASSES,
    labels: CLASSES,
    availableModelTypes: m ? ['int8', 'float32'] : [],
    recommendedModelType: 'int8',
    modelValidationMetrics: [],
    hasTrainedModel: Boolean(m),
    mode: 'classification',
    imageInputScaling: '0..1',
    thresholds: [],
  };
  if (!m) return base;
  base.modelValidationMetrics = ['int8', 'float32'].map((type) => ({
    type,
    loss: m.loss,
    accuracy: m.accuracy,
    confusionMatrix: m.confusionMatrix,
    report: report(m.confusionMatrix),
    onDevicePerformance: require('./performance').onDevicePerformance(m.config.visualLayers, type),
    visualization: 'featureExplorer',
    isSupportedOnMcu: true,
    additionalMetrics: [],
  }));
  base.tensorboardGraphs = [
    { title: 'Accuracy', xLabel: 'Epoch', yLabel: 'Accuracy', data: [
      { title: 'accuracy', values: m.history.map((h) => h.accuracy) },
      { title: 'val_accuracy', values: m.history.map((h) => h.val_accuracy) },
    ] },
    { title: 'Loss', xLabel: 'Epoch', yLabel: 'Loss', data: [
      { title: 'loss', values: m.history.map((h) => h.loss) },
      { title: 'val_loss', values: m.history.map((h) => h.val_loss) },
    ] },
  ];
  return base;
}

// The project's latency devices (the first is selected), with the latencies of the
// default network.
function latencyDevices() {
  const { onDevicePerformance } = require('./performance');
  const int8 = onDevicePerformance(DEFAULT_KERAS.visualLayers, 'int8');
  const float32 = onDevicePerformance(DEFAULT_KERAS.visualLayers, 'float32');
  return int8.map((d, i) => ({
    mcu: d.mcu, name: d.name, selected: i === 0, int8Latency: d.latency, int8ConvLatency: d.latency,
    float32Latency: float32[i].latency, float32ConvLatency: float32[i].latency, helpText: '',
  }));
}

function dataSummary(count) {
  return { totalLengthMs: count * 2000, labels: CLASSES, dataCount: count };
}

function projectInfo(apiKey, studioUrl) {
  const user = {
    id: 1, username: 'sim', name: 'Studio Sim', email: 'sim@example.invalid', created: CREATED,
    staffInfo: { isStaff: false, hasSudoRights: false }, pending: false, activated: true, mfaConfigured: false,
  };
  return {
    success: true,
    project: {
      id: PROJECT_ID, name: 'Gestures (simulated)', description: 'Continuous motion recognition, simulated', created: CREATED,
      owner: 'Studio Sim', ownerIsDeveloperProfile: true, collaborators: [{ ...user, isOwner: true }],
      labelingMethod: 'single_label', metadata: {}, isEnterpriseProject: false, whitelabelId: null, tier: 'free',
      hasPublicVersion: false, isPublic: false, allowsLivePublicAccess: false, indPauseProcessingSamples: false, publicProjectListed: false,
    },
    downloads: [],
    developmentKeys: { apiKey },
    impulse: { created: true, configured: true, complete: true },
    devices: [],
    dataSummary: dataSummary(SAMPLE_COUNT + 493),
    dataSummaryPerCategory: { training: dataSummary(SAMPLE_COUNT), testing: dataSummary(493), postProcessing: dataSummary(0) },
    computeTime: { periodStartDate: CREATED, periodEndDate: '2026-11-03T09:21:44.000Z', timeUsedMs: 0, timeLeftMs: 72000000 },
    acquisitionSettings: {
      intervalMs: 16, lengthMs: 10000, segmentShift: false, defaultPageSize: 50, viewType: 'list',
      gridColumnCount: 6, gridColumnCountDetailed: 2, showExactSampleLength: false, inlineEditBoundingBoxes: false,
    },
    collaborators: [user],
    deploySettings: { eonCompiler: true, sensor: 'accelerometer', arduinoLibraryName: 'gestures_inferencing', tinkergenLibraryName: 'gestures_inferencing', particleLibraryName: 'gestures_inferencing' },
    experiments: [],
    latencyDevices: latencyDevices(),
    urls: {},
    showCreateFirstImpulse: false,
    showGettingStartedWizard: { showWizard: false, step: 0 },
    performance: { gpu: false, jobLimitM: 60, dspFileSizeMb: 1024, enterprisePerformance: false, trainJobRamMb: 4096 },
    trainJobNotificationUids: [],
    dspJobNotificationUids: [],
    modelTestingJobNotificationUids: [],
    exportJobNotificationUids: [],
    hasNewTrainingData: false,
    studioUrl,
    inPretrainedModelFlow: false,
    showSensorDataInAcquisitionGraph: true,
    notifications: [],
  };
}

module.exports = {
  PROJECT_ID, INPUT_ID, DSP_ID, LEARN_IDS, CLASSES, SAMPLE_COUNT, FEATURE_COUNT, DEFAULT_KERAS,
  impulse, kerasResponse, kerasMetadata, confusion, projectInfo,
};
