'use strict';
// Credentials: the API key, JWTs (header or cookie), OAuth2 client-credentials bearer
// tokens and socket tokens. Error texts never contain the presented credential.

const crypto = require('crypto');

const DEFAULT_API_KEY = 'ei_5e1a7d0c0ffee5eed5e1a7d0c0ffee5eed5e1a7d0c0ffee5eed5e1a7d0c0ffee5e';
const OAUTH_CLIENT_ID = 'studio-sim-client';
const OAUTH_CLIENT_SECRET = 'studio-sim-client-secret-0123456789abcdef';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

class Auth {
  constructor({ apiKey = DEFAULT_API_KEY, scenario }) {
    this.apiKey = apiKey;
    this.scenario = scenario;
    this.key = crypto.randomBytes(32);
    this.bearers = new Map(); // token -> expiry (ms)
    this.issued = new Set([apiKey, OAUTH_CLIENT_SECRET]);
    this.userJwt = this.signJwt({ sub: 'user', uid: 1, name: 'Studio Sim' }, 30 * 24 * 3600 * 1000);
  }

  signJwt(claims, ttlMs) {
    const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const now = Date.now();
    const payload = b64url(JSON.stringify({ ...claims, iat: Math.floor(now / 1000), exp: Math.floor((now + ttlMs) / 1000), expMs: now + ttlMs, jti: crypto.randomBytes(8).toString('hex') }));
    const sig = crypto.createHmac('sha256', this.key).update(`${header}.${payload}`).digest('base64url');
    const token = `${header}.${payload}.${sig}`;
    this.issued.add(token);
    return token;
  }

  // Claims of a JWT signed here and not expired, or null.
  verifyJwt(token) {
    const claims = this.decodeJwt(token);
    return claims && claims.expMs > Date.now() ? claims : null;
  }

  // Claims of a JWT signed here (expired or not), or null.
  decodeJwt(token) {
    if (typeof token !== 'string') return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const expect = crypto.createHmac('sha256', this.key).update(`${parts[0]}.${parts[1]}`).digest();
    const got = Buffer.from(parts[2], 'base64url');
    if (got.length !== expect.length || !crypto.timingSafeEqual(got, expect)) return null;
    let claims;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    } catch (e) {
      return null;
    }
    return claims;
  }

  secrets() {
    return this.issued;
  }

  // The API key stops being accepted, as when its owner deletes it in Studio.
  revokeApiKey() {
    this.apiKey = null;
  }

  // {ok: true, method} or {ok: false, error} for a /v1 request.
  check(headers) {
    const tried = [];
    const apiKey = headers['x-api-key'];
    if (apiKey !== undefined) {
      if (apiKey === this.apiKey) return { ok: true, method: 'apiKey' };
      tried.push('Invalid API key');
    }
    const jwtHeader = headers['x-jwt-token'];
    if (jwtHeader !== undefined) {
      if (this.isUserJwt(jwtHeader)) return { ok: true, method: 'jwt' };
      tried.push('Invalid or expired JWT token');
    }
    const cookieJwt = cookie(headers.cookie, 'jwt');
    if (cookieJwt !== undefined) {
      if (this.isUserJwt(cookieJwt)) return { ok: true, method: 'jwtCookie' };
      tried.push('Invalid or expired JWT cookie');
    }
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization || '');
    if (bearer) {
      if (this.isBearer(bearer[1])) return { ok: true, method: 'oauth2' };
      tried.push('Invalid or expired bearer token');
    } else if (headers.authorization) {
      tried.push('Unsupported Authorization header');
    }
    if (!tried.length) return { ok: false, error: 'Missing credentials: send x-api-key, x-jwt-token, a jwt cookie or an OAuth2 bearer token' };
    return { ok: false, error: tried[0] };
  }

  isUserJwt(token) {
    const claims = this.verifyJwt(token);
    return Boolean(claims && claims.sub === 'user');
  }

  isBearer(token) {
    const exp = this.bearers.get(token);
    return exp !== undefined && exp > Date.now();
  }

  // POST /v1/oauth/token (client-credentials grant). Returns {status, body}.
  oauthToken(fields, headers) {
    let { client_id: id, client_secret: secret } = fields;
    const basic = /^Basic\s+(\S+)$/i.exec(headers.authorization || '');
    if (basic && id === undefined) {
      const [u, p] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
      id = decodeURIComponent(u || '');
      secret = decodeURIComponent(p || '');
    }
    if (fields.grant_type !== 'client_credentials') {
      return { status: 400, body: { success: false, error: 'unsupported_grant_type: only client_credentials is supported' } };
    }
    if (id !== OAUTH_CLIENT_ID || secret !== OAUTH_CLIENT_SECRET) {
      return { status: 401, body: { success: false, error: 'invalid_client: unknown client or wrong secret' } };
    }
    const ttl = this.scenario.get('oauthTokenTtl');
    const token = crypto.randomBytes(24).toString('hex');
    this.bearers.set(token, Date.now() + ttl * 1000);
    this.issued.add(token);
    return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: ttl, scope: fields.scope || 'openid' } };
  }

  socketToken(projectId) {
    const ttlMs = this.scenario.get('socketTokenTtl') * 1000;
    const socketToken = this.signJwt({ sub: 'socket', projectId }, ttlMs);
    return { socketToken, expires: new Date(Date.now() + ttlMs).toISOString() };
  }

  // {projectId} for a valid socket token, else {error}.
  checkSocketToken(token) {
    const claims = this.decodeJwt(token);
    if (!claims || claims.sub !== 'socket') return { error: 'Invalid token' };
    if (claims.expMs <= Date.now()) return { error: 'Token expired' };
    return { projectId: claims.projectId };
  }
}

function cookie(header, name) {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

module.exports = { Auth, DEFAULT_API_KEY, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET };
