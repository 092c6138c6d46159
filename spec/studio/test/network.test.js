'use strict';
// The wire and the rough network: both Engine.IO versions on one endpoint, the server's
// pings to EIO4 clients, connections cut mid-frame or reset, timestamps shared across
// a resubscription, Retry-After as an HTTP date, a stored log that differs from the
// stream, jobs that wait for their follower, and the batched fast path.

const test = require('node:test');
const assert = require('node:assert');
const { startSim, EioClient, RawWsClient, train, waitJob, download, until, jobStatus, readRecord, tmpFile } = require('./helpers');
const { normalize } = require('../lib/scenario');

async function raw(sim, opts) {
  const c = new RawWsClient(sim.url, { token: await sim.socketToken(), ...opts });
  if ((opts && opts.eio) === 4) {
    await until(() => c.frames.length >= 1, 5000, 'open packet');
    c.send('40');
  }
  await c.hello();
  return c;
}

test('EIO3 and EIO4 clients on the same endpoint get the same events', async (t) => {
  const record = tmpFile('record.jsonl');
  const sim = await startSim({ record });
  t.after(() => sim.stop());
  const v3 = await raw(sim, { eio: 3 });
  const v4 = await raw(sim, { eio: 4 });
  assert.match(v3.frames[0].raw, /^0\{"sid":.*"pingInterval":25000/);
  assert.strictEqual(v3.frames[1].raw, '40', 'v3: the server connects the default namespace');
  assert.match(v4.frames[1].raw, /^40\{"sid":/, 'v4: the answer to the client\'s 40');
  const id = await train(sim, { trainingCycles: 3 });
  v3.follow(id);
  v4.follow(id);
  await until(() => v3.events(`job-finished-${id}`).length && v4.events(`job-finished-${id}`).length, 15000, 'both finished');
  const payloads = (c) => c.frames.filter((f) => f.event).map((f) => f.raw);
  assert.deepStrictEqual(payloads(v4), payloads(v3));
  assert.strictEqual(v3.events(`job-data-${id}`).map((f) => f.data.data).join(''), await download(sim, id));
  await Promise.all([v3.close(), v4.close()]);
  assert.deepStrictEqual(readRecord(record).filter((r) => r.kind === 'ws-open').map((r) => r.eio), [3, 4]);
});

test('pingIntervalMs: the server pings EIO4 clients, and closes those that do not answer', async (t) => {
  const sim = await startSim({ scenario: { pingIntervalMs: 100, pingTimeoutMs: 1000 } });
  t.after(() => sim.stop());
  const answering = await raw(sim, { eio: 4 });
  const silent = await raw(sim, { eio: 4 });
  let pongs = 0;
  await until(() => {
    while (pongs < answering.frames.filter((f) => f.raw === '2').length) {
      answering.send('3');
      pongs++;
    }
    return pongs >= 5;
  }, 10000, 'five pings answered', 5);
  assert.strictEqual(await silent.closedP, 'end', 'ping timeout');
  assert.strictEqual(answering.ended, null, 'still open');
  await answering.close();
});

test('dropSocket how=midFrame: the connection ends in the middle of a websocket frame', async (t) => {
  const record = tmpFile('record.jsonl');
  const sim = await startSim({ record, scenario: { dropSocket: { afterFrames: 12, how: 'midFrame' } } });
  t.after(() => sim.stop());
  const c = await raw(sim);
  const id = await train(sim, { trainingCycles: 3 });
  c.follow(id);
  assert.strictEqual(await c.closedP, 'end');
  assert.strictEqual(c.frames.length, 12);
  assert.ok(c.buf.length > 0, 'bytes of a frame cut short');
  const declared = c.buf[1] & 0x7f;
  assert.ok(declared === 126 || declared > c.buf.length - 2, 'the frame is incomplete');
  assert.deepStrictEqual(readRecord(record).filter((r) => r.kind === 'ws-cut').map((r) => r.how), ['midFrame']);
  const d = await raw(sim);
  d.follow(id);
  await until(() => d.events(`job-finished-${id}`).length, 15000, 'replay after the cut');
  await d.close();
});

test('dropSocket how=reset: the connection is reset (RST)', async (t) => {
  const record = tmpFile('record.jsonl');
  const sim = await startSim({ record, scenario: { dropSocket: { afterFrames: 12, how: 'reset', every: true } } });
  t.after(() => sim.stop());
  const id = await train(sim, { trainingCycles: 3 });
  // a reset that arrives before the client read the last frames shows as the end of
  // the stream on Linux (the simulator waits 100 ms for the peer to read them first):
  // three connections, each ended abruptly, at least one seeing ECONNRESET
  const ends = [];
  for (let i = 0; i < 3; i++) {
    const c = await raw(sim);
    c.follow(id);
    ends.push(await c.closedP);
    assert.strictEqual(c.frames.length, 12);
  }
  assert.ok(ends.every((e) => e === 'ECONNRESET' || e === 'end'), ends.join());
  assert.ok(ends.includes('ECONNRESET'), ends.join());
  // the client may see its connection end before the simulator has written the record line
  const cutsOf = () => readRecord(record).filter((r) => r.kind === 'ws-cut');
  await until(() => cutsOf().length >= 3, 5000, 'three cuts recorded');
  assert.deepStrictEqual(cutsOf().map((r) => [r.how, r.framesSent]), [['reset', 12], ['reset', 12], ['reset', 12]]);
  assert.throws(() => normalize({ dropSocket: { how: 'gently' } }), /dropSocket.how must be one of close, midFrame, reset/);
});

test('sharedTimestamps: frames share timestamps; a resubscription skips (after) or repeats (at) the rest of a group', async (t) => {
  const sim = await startSim({ scenario: { sharedTimestamps: { frames: 4 } } });
  t.after(() => sim.stop());
  const id = await train(sim, { trainingCycles: 3 });
  const c = await raw(sim);
  c.follow(id);
  await until(() => c.events(`job-finished-${id}`).length, 15000, 'finished');
  const frames = c.events(`job-data-${id}`).map((f) => f.data);
  assert.ok(frames.length > 12);
  for (let i = 0; i < frames.length; i++) {
    if (i % 4) assert.strictEqual(frames[i].timestamp, frames[i - 1].timestamp, `frame ${i} shares its group's timestamp`);
    else if (i) assert.ok(frames[i].timestamp > frames[i - 1].timestamp);
  }
  await c.close();
  // a client that got the first frame of the second group resubscribes with its timestamp
  const T = frames[4].timestamp;
  const text = (list) => list.map((f) => f.data).join('');
  for (const [resume, from] of [['after', 8], ['at', 4]]) {
    await sim.control('scenario', { sharedTimestamps: { frames: 4, resume } });
    const d = await raw(sim);
    d.follow(id, T);
    await until(() => d.events(`job-finished-${id}`).length, 15000, `resubscription (${resume})`);
    assert.strictEqual(text(d.events(`job-data-${id}`).map((f) => f.data)), text(frames.slice(from)), resume);
    await d.close();
  }
  assert.throws(() => normalize({ sharedTimestamps: { frames: 1 } }), /sharedTimestamps.frames/);
});

test('Retry-After as an HTTP date on 429 and 503', async (t) => {
  const sim = await startSim({
    scenario: { http503: { count: 1, retryAfter: 2, retryAfterAs: 'date' }, http429: { count: 1, retryAfter: 3, retryAfterAs: 'date' } },
  });
  t.after(() => sim.stop());
  const P = `/v1/api/${sim.project_id}/impulse`;
  for (const [status, secs] of [[503, 2], [429, 3]]) {
    const before = Date.now();
    const res = await sim.api('GET', P);
    assert.strictEqual(res.status, status);
    const header = res.headers.get('retry-after');
    assert.match(header, /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/);
    const at = Date.parse(header);
    assert.ok(at >= before + secs * 1000 && at <= Date.now() + secs * 1000 + 1000, `${header}: ${secs} s ahead, rounded up`);
  }
  assert.strictEqual((await sim.api('GET', P)).status, 200);
  await sim.control('fail-next', { count: 1, status: 503, retryAfter: 1 });
  assert.strictEqual((await sim.api('GET', P)).headers.get('retry-after'), '1');
  assert.throws(() => normalize({ http429: { count: 1, retryAfterAs: 'minutes' } }), /retryAfterAs must be one of seconds, date/);
});

test('storedLog: the stored log has CRLF ends, a line the stream never carried, and frames split as lines', async (t) => {
  const sim = await startSim({ scenario: { seed: 1, storedLog: { crlf: true, extraLine: { text: 'WARN: log collector restarted', after: 2 }, splitFrames: true } } });
  t.after(() => sim.stop());
  const c = await raw(sim);
  const id = await train(sim, { trainingCycles: 10 });
  c.follow(id);
  await until(() => c.events(`job-finished-${id}`).length, 15000, 'finished');
  const frames = c.events(`job-data-${id}`).map((f) => f.data.data);
  const streamed = frames.join('');
  const stored = await download(sim, id);
  assert.notStrictEqual(stored, streamed);
  assert.ok(stored.endsWith('\r\n') && !/[^\r]\n/.test(stored), 'CRLF line ends only');
  const storedLines = stored.split('\r\n').slice(0, -1);
  assert.strictEqual(storedLines[2], 'WARN: log collector restarted');
  assert.ok(!streamed.includes('WARN: log collector restarted'));
  const cuts = frames.filter((f) => !f.endsWith('\n')).length;
  assert.ok(cuts > 0, 'some frames end mid-line');
  const streamedLines = streamed.split('\n').slice(0, -1);
  assert.strictEqual(storedLines.length, streamedLines.length + cuts + 1);
  // the same text, split differently
  assert.strictEqual(storedLines.filter((l, i) => i !== 2).join(''), streamedLines.join(''));
  const last = await sim.api('GET', `/v1/api/${sim.project_id}/jobs/${id}/stdout/download?limit=2`);
  assert.strictEqual(last.text, `${storedLines.at(-2)}\r\n${storedLines.at(-1)}\r\n`);
});

test('queueSeconds: a job waits for its follower, then streams live from its first line', async (t) => {
  const sim = await startSim({ speed: 100, scenario: { queueSeconds: 60 } });
  t.after(() => sim.stop());
  const id = await train(sim, { trainingCycles: 2 });
  await new Promise((r) => setTimeout(r, 300));
  let job = await jobStatus(sim, id);
  assert.strictEqual(job.started, undefined, 'not started without a follower');
  assert.strictEqual((await sim.control('stats')).body.jobs[0].frames, 0);
  const c = new EioClient(sim.url, { token: await sim.socketToken() });
  await c.hello();
  const subscribed = Date.now();
  c.follow(id);
  await c.finished(id);
  const data = c.events(`job-data-${id}`);
  assert.ok(data[0].data.timestamp >= subscribed, 'the first line was produced after the subscription');
  assert.ok(data.at(-1).data.timestamp - data[0].data.timestamp >= 100, 'over the job\'s run time (~160 ms at speed 100), live');
  job = await jobStatus(sim, id);
  assert.strictEqual(job.finishedSuccessful, true);
  await c.close();
  // a broadcast socket of the project follows every new job at once
  const b = new EioClient(sim.url, { token: await sim.socketToken(), onDemand: false });
  await b.hello();
  const second = await train(sim, { trainingCycles: 1 });
  await b.finished(second);
  assert.strictEqual(b.text(second), await download(sim, second));
  await b.close();
});

test('queueSeconds: without a follower the job starts after the wait; 0 starts it at once', async (t) => {
  const sim = await startSim({ scenario: { queueSeconds: 0.5 } });
  t.after(() => sim.stop());
  const t0 = Date.now();
  const id = await train(sim, { trainingCycles: 1 });
  await waitJob(sim, id);
  assert.ok(Date.now() - t0 >= 500, 'waited in the queue');
  await sim.control('scenario', { queueSeconds: 0 });
  const now = await train(sim, { trainingCycles: 1 });
  await until(async () => (await jobStatus(sim, now)).started, 5000, 'started at once');
  assert.throws(() => normalize({ queueSeconds: -1 }), /queueSeconds/);
});

test('batchedFrames: the raw fast path writes many frames per TCP write', async (t) => {
  const N = 20000;
  const sim = await startSim({ scenario: { fastStream: { lines: N }, batchedFrames: true } });
  t.after(() => sim.stop());
  const c = await raw(sim);
  const id = await train(sim, { trainingCycles: 1 });
  c.follow(id);
  await until(() => c.events(`job-finished-${id}`).length, 30000, 'finished');
  const data = c.events(`job-data-${id}`);
  assert.strictEqual(data.length, N + 3);
  assert.strictEqual(data.map((f) => f.data.data).join(''), await download(sim, id));
  assert.ok(c.reads < data.length / 20, `${data.length} frames in ${c.reads} reads`);
  await c.close();
});
