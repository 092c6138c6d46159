#!/usr/bin/env node
'use strict';
// Edge Impulse's own Node client trains one job on a running simulator and follows it
// with runJobUntilCompletion, counting log lines.
//
//   node bench/official.js URL API_KEY PROJECT_ID LEARN_ID EXPECTED_LOG_LINES
//
// Prints "lines <n> job <id> finished_us <µs>": the CLOCK_MONOTONIC microsecond the
// promise resolved (to compare with the simulator's finishedSentUs).
// runJobUntilCompletion also polls the job status every 5 s, so its wall time includes
// up to 5 s of waiting; its CPU time is what compares. Exits 1 on a wrong count.
const path = require('path');
const { EdgeImpulseApi } = require(path.join(__dirname, '..', 'spec', 'studio', 'node_modules', 'edge-impulse-api'));

async function main() {
  const [url, apiKey, pid, lid, expected] = process.argv.slice(2);
  const api = new EdgeImpulseApi({ endpoint: url });
  await api.authenticate({ method: 'apiKey', apiKey });
  const started = await api.jobs.trainKerasJob(Number(pid), Number(lid), { trainingCycles: 1 });
  let lines = 0;
  let partial = '';
  await api.runJobUntilCompletion({ type: 'project', projectId: Number(pid), jobId: started.id }, (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    lines += parts.length;
  });
  const finishedUs = process.hrtime.bigint() / 1000n;
  lines -= 1; // the client's own "Connected to job" line
  process.stdout.write(`lines ${lines} job ${started.id} finished_us ${finishedUs}\n`);
  if (lines !== Number(expected)) {
    process.stderr.write(`official: expected ${expected} log lines, got ${lines}\n`);
    process.exitCode = 1;
  }
  process.exit();
}

main().catch((e) => { process.stderr.write(`official: ${e.stack || e}\n`); process.exit(1); });
