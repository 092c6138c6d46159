'use strict';
// REST routes under /v1, by operationId of the official document. A handler returns
// {status?, body} (JSON), {status?, text} (text/plain) or {status?, text, headers}
// (another content type, e.g. a ZIP file as a Buffer).

const fixtures = require('./fixtures');
const { validator, formValidator } = require('./schema');
const { classifyResponse } = require('./classify');
const { dspPerformance } = require('./performance');
const { unsupported } = require('./deployment');

const validateKeras = validator('SetKerasParameterRequest');
const validateUpload = formValidator('UploadPretrainedModelRequest');
const PARAMETERS = {};
const BODIES = {};
for (const id of ['startClassifyJob', 'getClassifyJobResult', 'getPerformanceAllVariants', 'buildOnDeviceModelJob', 'getDeployment', 'downloadBuild', 'downloadHistoricDeployment']) {
  PARAMETERS[id] = validator(id, 'parameters');
}
for (const id of ['startClassifyJob', 'buildOnDeviceModelJob']) BODIES[id] = validator(id, 'body');

const ok = (body) => ({ status: 200, body: { success: true, ...body } });
const err = (status, error) => ({ status, body: { success: false, error } });
const LEVELS = ['error', 'warn', 'info', 'debug'];

function route(method, template, operationId, handler, opts = {}) {
  const names = [];
  const re = new RegExp(`^${template.replace(/\{(\w+)\}/g, (m, n) => {
    names.push(n);
    return '([^/]+)';
  })}$`);
  return { method, re, names, operationId, handler, public: Boolean(opts.public), needsBody: Boolean(opts.body), multipart: Boolean(opts.multipart) };
}

// The stored log as the storedLog knob makes it differ from the stream: every frame
// ending mid-line ends a stored line (splitFrames), and a line the stream never carried
// (extraLine). A partial last line is kept as a line.
function storedLines(job, { splitFrames, extraLine }) {
  let text = '';
  for (const f of job.frames) text += splitFrames && !f.data.endsWith('\n') ? `${f.data}\n` : f.data;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (extraLine) lines.splice(Math.min(extraLine.after, lines.length), 0, extraLine.text);
  return lines;
}

class Rest {
  constructor({ project, jobs, auth, baseUrl }) {
    Object.assign(this, { project, jobs, auth, baseUrl });
    const p = '/v1/api/{projectId}';
    this.routes = [
      route('POST', '/v1/oauth/token', 'oauthToken', (c) => this.oauthToken(c), { public: true }),
      route('GET', p, 'getProjectInfo', (c) => this.projectInfo(c)),
      route('GET', `${p}/socket-token`, 'getSocketToken', () => ok({ token: this.auth.socketToken(this.project.id) })),
      route('GET', `${p}/impulse`, 'getImpulse', () => ok({ impulse: fixtures.impulse() })),
      route('GET', `${p}/training/keras/{learnId}`, 'getKeras', (c) => this.withBlock(c, (b) => ({ status: 200, body: fixtures.kerasResponse(b) }))),
      route('POST', `${p}/training/keras/{learnId}`, 'setKeras', (c) => this.withBlock(c, (b) => this.setKeras(c, b)), { body: true }),
      route('GET', `${p}/training/keras/{learnId}/metadata`, 'getKerasMetadata', (c) => this.withBlock(c, (b) => ({ status: 200, body: fixtures.kerasMetadata(b) }))),
      route('POST', `${p}/jobs/train/keras/{learnId}`, 'trainKerasJob', (c) => this.withBlock(c, (b) => this.trainKeras(c, b)), { body: true }),
      route('POST', `${p}/jobs/generate-features`, 'generateFeaturesJob', (c) => this.generateFeatures(c), { body: true }),
      route('GET', `${p}/jobs`, 'listActiveJobs', () => this.activeJobs()),
      route('GET', `${p}/jobs/{jobId}/status`, 'getJobStatus', (c) => this.withJob(c, (j) => ok({ job: j.toJSON() }))),
      route('GET', `${p}/jobs/{jobId}/stdout`, 'getJobsLogs', (c) => this.withJob(c, (j) => this.logs(c, j))),
      route('GET', `${p}/jobs/{jobId}/stdout/download`, 'downloadJobsLogs', (c) => this.withJob(c, (j) => this.download(c, j))),
      route('POST', `${p}/jobs/{jobId}/cancel`, 'cancelJob', (c) => this.withJob(c, (j) => this.cancel(c, j))),
      route('POST', `${p}/jobs/classify`, 'startClassifyJob', (c) => this.checked(c, (a, body) => this.classify(body)), { body: true }),
      route('GET', `${p}/classify/all/result`, 'getClassifyJobResult', (c) => this.checked(c, (a) => this.classifyResult(a))),
      route('GET', `${p}/dsp/{dspId}/performance`, 'getPerformanceAllVariants', (c) => this.checked(c, (a) => this.dspPerformance(a))),
      route('POST', `${p}/jobs/build-ondevice-model`, 'buildOnDeviceModelJob', (c) => this.checked(c, (a, body) => this.build(a, body)), { body: true }),
      route('GET', `${p}/deployment`, 'getDeployment', (c) => this.checked(c, (a) => this.deployment(a))),
      route('GET', `${p}/deployment/download`, 'downloadBuild', (c) => this.checked(c, (a) => this.downloadBuild(a))),
      route('GET', `${p}/deployment/history/{deploymentVersion}/download`, 'downloadHistoricDeployment', (c) => this.checked(c, (a) => this.downloadVersion(a))),
      route('POST', `${p}/pretrained-model/upload`, 'uploadPretrainedModel', (c) => this.uploadPretrainedModel(c), { multipart: true }),
    ];
  }

  // The route of a request, with its path parameters; null when none matches.
  match(method, path) {
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m || r.method !== method) continue;
      const params = {};
      r.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1]);
      });
      return { route: r, params };
    }
    return null;
  }

  handle(ctx) {
    const { route: r, params } = ctx.match;
    ctx.params = params;
    if (params.projectId !== undefined && Number(params.projectId) !== this.project.id) {
      return err(404, `Project ${params.projectId} not found`);
    }
    if (r.needsBody) {
      if (ctx.invalidJson) return err(400, 'Request body is not valid JSON');
      if (ctx.json === undefined || ctx.json === null || typeof ctx.json !== 'object' || Array.isArray(ctx.json)) {
        return err(400, 'Missing request body (a JSON object is required)');
      }
    }
    if (r.multipart && !ctx.multipart) {
      return err(400, ctx.invalidMultipart ? `Malformed multipart body: ${ctx.invalidMultipart}` : 'Expected a multipart/form-data body');
    }
    return r.handler(ctx);
  }

  oauthToken(c) {
    const fields = c.json && typeof c.json === 'object' ? c.json : {};
    return this.auth.oauthToken(fields, c.headers);
  }

  projectInfo() {
    return { status: 200, body: fixtures.projectInfo(this.auth.apiKey, `${this.baseUrl()}/studio/${this.project.id}`) };
  }

  withBlock(c, fn) {
    const block = this.project.learnBlock(c.params.learnId);
    return block ? fn(block) : err(404, `Learn block ${c.params.learnId} not found`);
  }

  withJob(c, fn) {
    const job = this.jobs.get(c.params.jobId);
    return job && job.projectId === this.project.id ? fn(job) : err(404, `Job ${c.params.jobId} not found`);
  }

  setKeras(c, block) {
    const invalid = validateKeras(c.json);
    if (invalid) return err(400, `Invalid request body: ${invalid}`);
    this.project.setKeras(block, c.json);
    return ok({});
  }

  trainKeras(c, block) {
    const invalid = validateKeras(c.json);
    if (invalid) return err(400, `Invalid request body: ${invalid}`);
    return ok({ id: this.project.trainKeras(block, c.json).id });
  }

  generateFeatures(c) {
    const dspId = c.json.dspId;
    if (!Number.isInteger(dspId)) return err(400, 'Invalid request body: dspId: must be integer');
    if (dspId !== fixtures.DSP_ID) return err(404, `DSP block ${dspId} not found`);
    return ok({ id: this.project.generateFeatures(dspId).id });
  }

  // Validates the parameters (path and query as one object, coerced to their types) and
  // the body against the operation's schemas, then calls fn(parameters, body).
  checked(c, fn) {
    const id = c.match.route.operationId;
    const args = { ...c.query, ...c.params };
    delete args.projectId;
    const invalid = PARAMETERS[id](args);
    if (invalid) return err(400, `Invalid parameters: ${invalid}`);
    const invalidBody = BODIES[id] && BODIES[id](c.json);
    if (invalidBody) return err(400, `Invalid request body: ${invalidBody}`);
    return fn(args, c.json);
  }

  classify(body) {
    return ok({ id: this.project.classify(body).id });
  }

  // No results for the variant yet: HTTP 200 with success:false, as Studio answers.
  classifyResult(a) {
    const stored = this.project.classified;
    const variant = a.variant || 'int8';
    if (!stored || !stored.predictions[variant]) {
      return { status: 200, body: { success: false, error: `No classification results for model variant ${variant}; run startClassifyJob first` } };
    }
    return { status: 200, body: classifyResponse(stored, variant, a) };
  }

  dspPerformance(a) {
    if (a.dspId !== fixtures.DSP_ID) return err(404, `DSP block ${a.dspId} not found`);
    return ok({ performance: dspPerformance(fixtures.impulse()) });
  }

  // An unknown type or an engine the type cannot use: HTTP 200 with success:false.
  build(a, body) {
    const why = unsupported(a.type, body.engine);
    if (why) return { status: 200, body: { success: false, error: why } };
    const { job, build } = this.project.build({ type: a.type, engine: body.engine, modelType: body.modelType });
    return ok({ id: job.id, deploymentVersion: build.version });
  }

  deployment(a) {
    const b = this.project.deployments.latest(a);
    return ok(b ? { hasDeployment: true, version: b.version } : { hasDeployment: false });
  }

  downloadBuild(a) {
    const b = this.project.deployments.latest(a);
    return b ? this.zipFile(b) : err(404, `No deployment of type ${a.type} has been built`);
  }

  downloadVersion(a) {
    const b = this.project.deployments.get(a.deploymentVersion);
    return b ? this.zipFile(b) : err(404, `Deployment version ${a.deploymentVersion} not found`);
  }

  // The archive of a build; the scenario knob cutDownloads interrupts it.
  zipFile(build) {
    const { name, data } = build.artifact;
    const out = {
      status: 200,
      text: data,
      headers: { 'content-type': 'application/zip', 'content-length': String(data.length), 'content-disposition': `attachment; filename="${name}"` },
    };
    const cutKnob = this.project.scenario.get('cutDownloads');
    if (cutKnob && cutKnob.count > 0) {
      cutKnob.count--;
      out.cutAfter = cutKnob.afterBytes;
    }
    return out;
  }

  uploadPretrainedModel(c) {
    const invalid = validateUpload(c.multipart);
    if (invalid) return err(400, `Invalid request body: ${invalid}`);
    return ok({ id: this.project.uploadPretrainedModel(c.multipart.files.modelFile).id });
  }

  activeJobs() {
    const jobs = this.jobs.all(this.project.id).filter((j) => !j.done).reverse().map((j) => j.toJSON());
    return ok({ jobs, totalJobCount: jobs.length });
  }

  logs(c, job) {
    const limit = c.query.limit !== undefined ? Math.max(0, parseInt(c.query.limit, 10) || 0) : 1000;
    const maxLevel = LEVELS.indexOf(c.query.logLevel || 'debug');
    const lines = maxLevel >= 0 ? job.lines.filter((l) => LEVELS.indexOf(l.level) <= maxLevel) : job.lines;
    const stdout = [];
    for (let i = lines.length - 1; i >= 0 && stdout.length < limit; i--) {
      const l = lines[i];
      stdout.push({ created: new Date(l.ts).toISOString(), data: l.data, logLevel: l.level });
    }
    return ok({ stdout, totalCount: lines.length });
  }

  download(c, job) {
    const stored = this.project.scenario.get('storedLog');
    if (c.query.limit === undefined && !stored) return { status: 200, text: job.text() };
    const all = stored ? storedLines(job, stored) : job.lines.map((l) => l.data);
    const limit = c.query.limit === undefined ? all.length : Math.max(0, parseInt(c.query.limit, 10) || 0);
    const lines = all.slice(Math.max(0, all.length - limit));
    const eol = stored && stored.crlf ? '\r\n' : '\n';
    return { status: 200, text: lines.map((l) => `${l}${eol}`).join('') };
  }

  cancel(c, job) {
    if (job.done) return { status: 200, body: { success: false, error: `Job ${job.id} is already finished` } };
    this.jobs.cancel(job, c.query.forceCancel === 'true');
    return ok({});
  }
}

module.exports = { Rest, storedLines };
