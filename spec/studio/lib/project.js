'use strict';
// The state of the simulated project: learn-block configurations and the results of
// their last successful training, and how jobs are started on it.

const fixtures = require('./fixtures');
const { planTraining, planFeatures } = require('./training');
const { planClassify } = require('./classify');
const { Deployments, planBuild, TYPES } = require('./deployment');
const { createRng, hash32 } = require('./rng');

class Project {
  constructor({ jobs, scenario }) {
    this.id = fixtures.PROJECT_ID;
    this.jobs = jobs;
    this.scenario = scenario;
    this.learn = new Map(fixtures.LEARN_IDS.map((id, i) => [id, {
      id, name: i ? `Classifier ${i + 1}` : 'Classifier', config: structuredClone(fixtures.DEFAULT_KERAS), metrics: null,
    }]));
    this.classified = null; // the last successful classify job's predictions per variant
    this.deployments = new Deployments();
  }

  // Learn blocks with a trained model, in impulse order.
  trainedBlocks() {
    return [...this.learn.values()].filter((b) => b.metrics);
  }

  learnBlock(id) {
    return this.learn.get(Number(id)) || null;
  }

  // "Only fields defined in this object are set".
  setKeras(block, body) {
    for (const [key, value] of Object.entries(body)) block.config[key] = structuredClone(value);
  }

  trainKeras(block, body) {
    this.setKeras(block, body);
    const cfg = structuredClone(block.config);
    const job = this.jobs.create({ projectId: this.id, category: 'Training model', categoryKey: 'train', key: `train-keras-${block.id}` });
    job.config = cfg;
    if (this.startFast(job)) return job;
    const seed = this.scenario.get('seed');
    const plan = planTraining(cfg, {
      seed,
      failJob: this.scenario.forJob('failJob', job.ordinal),
      hugeLine: this.scenario.forJob('hugeLine', job.ordinal),
    });
    job.onDone = (success) => {
      if (success && plan.result) block.metrics = this.metrics(plan.result, job);
    };
    this.jobs.run(job, plan, seed);
    return job;
  }

  generateFeatures(dspId) {
    const job = this.jobs.create({ projectId: this.id, category: 'Generate features', categoryKey: 'dsp', key: `generate-features-${dspId}` });
    if (this.startFast(job)) return job;
    const seed = this.scenario.get('seed');
    this.jobs.run(job, planFeatures({ seed, dspId }), seed);
    return job;
  }

  // startClassifyJob: classify the test set with each model variant asked for (default:
  // the first trained block's selected model type).
  classify(body) {
    const job = this.jobs.create({ projectId: this.id, category: 'Classify', categoryKey: 'classify', key: 'classify' });
    if (this.startFast(job)) return job;
    const trained = this.trainedBlocks();
    const variants = body.modelVariants && body.modelVariants.length ? [...new Set(body.modelVariants)]
      : [trained.length ? trained[0].config.selectedModelType || 'int8' : 'int8'];
    const seed = this.scenario.get('seed');
    const plan = planClassify({ trained, variants, seed, fail: this.scenario.forJob('failClassify', job.ordinal), ordinal: job.ordinal });
    job.onDone = (success) => {
      if (success) this.classified = plan.result;
    };
    this.jobs.run(job, plan, seed);
    return job;
  }

  // buildOnDeviceModelJob: a build job and the deployment version it will produce.
  build({ type, engine, modelType }) {
    const trained = this.trainedBlocks();
    const build = this.deployments.add({
      type, engine: engine || TYPES[type].engines[0],
      modelType: modelType || (trained.length ? trained[0].config.selectedModelType || 'int8' : 'int8'),
    });
    const job = this.jobs.create({ projectId: this.id, category: `Building ${TYPES[type].name}`, categoryKey: 'deploy', key: `deploy-${type}` });
    build.jobId = job.id;
    if (this.startFast(job)) return { job, build };
    const seed = this.scenario.get('seed');
    const plan = planBuild(build, trained, this.scenario.forJob('failBuild', job.ordinal));
    job.onDone = (success) => {
      if (success) build.artifact = plan.result;
    };
    this.jobs.run(job, plan, seed);
    return { job, build };
  }

  // A short job that "converts" the uploaded model (file: multipart.js's summary).
  uploadPretrainedModel(file) {
    const job = this.jobs.create({ projectId: this.id, category: 'Upload pretrained model', categoryKey: 'pretrained-model', key: 'upload-pretrained-model' });
    const say = (text, at, mark) => (mark ? { at, text: `${text}\n`, mark } : { at, text: `${text}\n` });
    const lines = [
      say('Scheduling job in cluster...', 0),
      say('Job started', 0.5, 'started'),
      say(`Received ${file.filename} (${file.size} bytes, sha256 ${file.sha256})`, 0.6),
      say('Converting model OK', 1.0),
      say('Job completed (success)', 1.1),
    ];
    this.jobs.run(job, { lines, success: true, result: null }, this.scenario.get('seed'));
    return job;
  }

  startFast(job) {
    const fast = this.scenario.forJob('fastStream', job.ordinal);
    if (fast) {
      this.jobs.runFast(job, fast.lines);
      return true;
    }
    const steady = this.scenario.forJob('steadyStream', job.ordinal);
    if (steady) {
      this.jobs.runSteady(job, steady);
      return true;
    }
    return false;
  }

  metrics(result, job) {
    const rng = createRng(hash32(`${this.scenario.get('seed')}|confusion|${result.final.val_accuracy}`));
    return {
      created: new Date().toISOString(),
      accuracy: result.final.val_accuracy,
      loss: result.final.val_loss,
      confusionMatrix: fixtures.confusion(result.final.val_accuracy, rng),
      history: result.history,
      jobId: job.id,
      config: structuredClone(job.config),
    };
  }
}

module.exports = { Project };
