'use strict';
// The timed log of a job being planned: lines at simulated seconds from its creation,
// in the {lines: [{at, text, mark?}], success} form JobRegistry.run plays.

function timeline() {
  const lines = [];
  let t = 0;
  // One line `dt` simulated seconds after the previous one; mark 'started' sets the
  // job's `started` time when the line is sent.
  const say = (text, dt = 0.05, mark) => {
    t += dt;
    lines.push(mark ? { at: t, text: `${text}\n`, mark } : { at: t, text: `${text}\n` });
  };
  // How a failed job's log ends.
  const fail = (message) => {
    say(message, 0.2);
    say('Application exited with code 1', 0.3);
    say('', 0);
    say('Job failed (see above)', 0.2);
    return { lines, success: false };
  };
  const succeed = () => {
    say('', 0);
    say('Job completed (success)', 0.2);
    return { lines, success: true };
  };
  const start = () => {
    say('Scheduling job in cluster...', 0);
    say('Container image pulled!', 1.0);
    say('Job started', 0.5, 'started');
  };
  return { lines, say, fail, succeed, start };
}

module.exports = { timeline };
