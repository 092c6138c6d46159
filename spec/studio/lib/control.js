'use strict';
// /__sim/*: loopback-only, unauthenticated endpoints for tests to inspect the
// simulator and change its scenario while it runs.

function isLoopback(address) {
  return /^(127\.|::1$|::ffff:127\.)/.test(address || '');
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

// sim: the Simulator (server.js); json: the parsed request body or undefined.
function handleControl(sim, req, res, path, json) {
  if (!isLoopback(req.socket.remoteAddress)) return reply(res, 403, { success: false, error: 'loopback only' });
  const key = `${req.method} ${path}`;
  try {
    switch (key) {
      case 'GET /__sim/stats':
        return reply(res, 200, { success: true, ...sim.stats() });
      case 'GET /__sim/scenario':
        return reply(res, 200, { success: true, scenario: sim.scenario.toJSON() });
      case 'POST /__sim/scenario':
        sim.updateScenario(json || {});
        return reply(res, 200, { success: true, scenario: sim.scenario.toJSON() });
      case 'POST /__sim/revoke-key':
        sim.auth.revokeApiKey();
        return reply(res, 200, { success: true });
      case 'POST /__sim/drop-sockets':
        return reply(res, 200, { success: true, dropped: sim.sockets.dropAll() });
      case 'POST /__sim/unreachable': {
        const seconds = Number((json && json.seconds) ?? 2);
        res.on('finish', () => sim.goUnreachable(seconds));
        return reply(res, 200, { success: true, seconds });
      }
      case 'POST /__sim/fail-next': {
        const body = json || {};
        const n = body.count ?? 1;
        const as = body.retryAfterAs ?? 'seconds';
        if ((body.status ?? 503) === 429) sim.updateScenario({ http429: { count: n, retryAfter: body.retryAfter ?? 1, retryAfterAs: as } });
        else sim.updateScenario({ http503: { count: n, retryAfter: body.retryAfter ?? null, retryAfterAs: as } });
        return reply(res, 200, { success: true, scenario: sim.scenario.toJSON() });
      }
      default:
        return reply(res, 404, { success: false, error: `no control endpoint ${key}` });
    }
  } catch (e) {
    return reply(res, 400, { success: false, error: e.message });
  }
}

module.exports = { handleControl, isLoopback };
