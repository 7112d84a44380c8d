// @ts-check
/**
 * A tiny in-memory stand-in for `plangen all`, used only to exercise the e2e journey before the real
 * platform exists:  PLANGEN_E2E_SERVER_CMD='node e2e/mock-platform.mjs --port 0' npm run e2e
 * It serves dist/ with an SPA fallback and implements the /api/v1 contract the SPA relies on
 * (problem+json errors, httpOnly refresh cookie, ETag/If-Match, Idempotency-Key). Not production code.
 */
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
const ACCESS_TTL = Number(process.env.MOCK_ACCESS_TTL ?? 900);

/** @typedef {{ id: string, email: string, username: string, name: string|null, password: string, avatar: string|null, bio: string|null, createdAt: string, updatedAt: string }} User */
/** @type {Map<string, User>} */ const users = new Map();
/** @type {Map<string, { id: string, userId: string, refresh: string, createdAt: string, lastUsedAt: string, userAgent: string, ip: string, revoked: boolean }>} */
const sessions = new Map();
/** @type {Map<string, { userId: string, sessionId: string, exp: number }>} */ const tokens = new Map();
/** @type {Map<string, any>} */ const templates = new Map();
/** @type {Map<string, any>} */ const plans = new Map();
/** @type {Map<string, any>} */ const idempotency = new Map();

const now = () => new Date().toISOString();
const publicUser = (/** @type {User} */ u) => ({
  id: u.id, email: u.email, name: u.name, username: u.username, avatar: u.avatar, bio: u.bio,
  role: 'user', isActive: true, isEmailVerified: false, createdAt: u.createdAt, updatedAt: u.updatedAt,
});

class Problem extends Error {
  /** @param {number} status @param {string} type @param {string} title @param {{field:string,message:string}[]} [errors] @param {Record<string,string>} [headers] */
  constructor(status, type, title, errors, headers) {
    super(title);
    this.status = status; this.type = type; this.errors = errors; this.headers = headers;
  }
}

// ---- time zones (same algorithm as src/lib/dates.ts) ----
/** @param {number} ms @param {string} tz */
function offset(ms, tz) {
  const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  /** @type {Record<string, number>} */ const p = {};
  for (const x of f.formatToParts(new Date(ms))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour % 24, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}
/** @param {string} date @param {string} time @param {string} tz */
function zoned(date, time, tz) {
  const [y, mo, d] = date.split('-').map(Number); const [h, mi] = time.split(':').map(Number);
  const local = Date.UTC(y, mo - 1, d, h, mi);
  const b = offset(local - 864e5, tz), a = offset(local + 864e5, tz);
  const c = [local - b, local - a].filter((t) => t + offset(t, tz) === local);
  return new Date(c.length ? Math.min(...c) : local - b).toISOString().replace('.000Z', 'Z');
}
/** @param {string} date @param {number} n */
const addDays = (date, n) => { const [y, m, d] = date.split('-').map(Number); return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10); };

// ---- auth helpers ----
/** @param {string} userId @param {import('node:http').IncomingMessage} req @param {string} [sessionId] */
function issue(userId, req, sessionId = String(randomUUID())) {
  const refresh = randomUUID();
  const existing = sessions.get(sessionId);
  sessions.set(sessionId, {
    id: sessionId, userId, refresh, createdAt: existing?.createdAt ?? now(), lastUsedAt: now(),
    userAgent: String(req.headers['user-agent'] ?? ''), ip: '127.0.0.1', revoked: false,
  });
  const accessToken = randomUUID();
  tokens.set(accessToken, { userId, sessionId, exp: Date.now() + ACCESS_TTL * 1000 });
  const user = users.get(userId);
  return {
    body: { user: user && publicUser(user), accessToken, refreshToken: refresh, tokenType: 'Bearer', expiresIn: ACCESS_TTL },
    cookie: `plangen_refresh=${refresh}; Path=/api; HttpOnly; SameSite=Lax; Max-Age=2592000`,
  };
}
/** @param {import('node:http').IncomingMessage} req */
function authed(req) {
  const m = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
  const t = m && tokens.get(m[1]);
  if (!t) throw new Problem(401, 'unauthorized', 'Unauthorized');
  const s = sessions.get(t.sessionId);
  if (!s || s.revoked) throw new Problem(401, 'session-revoked', 'Session revoked');
  if (t.exp < Date.now()) throw new Problem(401, 'token-expired', 'Token expired');
  return { userId: t.userId, sessionId: t.sessionId };
}
/** @param {import('node:http').IncomingMessage} req */
const cookieRefresh = (req) => /(?:^|;\s*)plangen_refresh=([^;]+)/.exec(String(req.headers.cookie ?? ''))?.[1];

/** @param {any} body @param {string[]} fields */
function required(body, fields) {
  const errors = fields.filter((f) => body[f] === undefined || body[f] === '').map((field) => ({ field, message: `${field} is required` }));
  if (errors.length) throw new Problem(422, 'validation', 'Validation failed', errors);
}

/** @param {any} t */ const tplOut = (t) => t;
/** @param {any} p */ const planOut = (p) => p;

/** @param {any[]} items @param {URLSearchParams} q */
function page(items, q) {
  const limit = Math.min(Number(q.get('limit') ?? 20), 100);
  const start = Number(q.get('cursor') ?? 0);
  const slice = items.slice(start, start + limit);
  return { items: slice, nextCursor: start + limit < items.length ? String(start + limit) : null };
}
/** @param {any[]} items @param {string|null} sort */
function sortBy(items, sort) {
  if (!sort) return items;
  const desc = sort.startsWith('-'); const key = sort.replace(/^-/, '');
  return [...items].sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0) * (desc ? -1 : 1));
}

/**
 * @param {string} method @param {string} path @param {URLSearchParams} q @param {any} body
 * @param {import('node:http').IncomingMessage} req
 * @returns {{ status?: number, body?: any, headers?: Record<string,string>, text?: string }}
 */
function route(method, path, q, body, req) {
  const A = '/api/v1/auth';
  if (method === 'POST' && path === `${A}/register`) {
    required(body, ['email', 'username', 'password']);
    const errors = [];
    for (const u of users.values()) {
      if (u.email.toLowerCase() === String(body.email).toLowerCase()) errors.push({ field: 'email', message: 'This email is already registered' });
      if (u.username.toLowerCase() === String(body.username).toLowerCase()) errors.push({ field: 'username', message: 'This username is taken' });
    }
    if (errors.length) throw new Problem(409, 'conflict', 'Conflict', errors);
    if (String(body.password).length < 8) throw new Problem(422, 'validation', 'Validation failed', [{ field: 'password', message: 'too short' }]);
    const user = { id: randomUUID(), email: body.email, username: body.username, name: body.name ?? null, password: body.password, avatar: null, bio: null, createdAt: now(), updatedAt: now() };
    users.set(user.id, user);
    const { body: out, cookie } = issue(user.id, req);
    return { status: 201, body: out, headers: { 'Set-Cookie': cookie } };
  }
  if (method === 'POST' && path === `${A}/login`) {
    const user = [...users.values()].find((u) => (u.email === body.login || u.username === body.login) && u.password === body.password);
    if (!user) throw new Problem(401, 'invalid-credentials', 'Invalid credentials');
    const { body: out, cookie } = issue(user.id, req);
    return { body: out, headers: { 'Set-Cookie': cookie } };
  }
  if (method === 'POST' && path === `${A}/refresh`) {
    const token = body?.refreshToken ?? cookieRefresh(req);
    const s = [...sessions.values()].find((x) => x.refresh === token && !x.revoked);
    if (!s) throw new Problem(401, 'invalid-token', 'Invalid refresh token');
    const { body: out, cookie } = issue(s.userId, req, s.id);
    return { body: out, headers: { 'Set-Cookie': cookie } };
  }
  const clear = { 'Set-Cookie': 'plangen_refresh=; Path=/api; HttpOnly; SameSite=Lax; Max-Age=0' };
  if (method === 'POST' && path === `${A}/logout`) {
    const { sessionId } = authed(req);
    const s = sessions.get(sessionId); if (s) s.revoked = true;
    return { status: 204, headers: clear };
  }
  if (method === 'POST' && path === `${A}/logout-all`) {
    const { userId } = authed(req);
    for (const s of sessions.values()) if (s.userId === userId) s.revoked = true;
    return { status: 204, headers: clear };
  }
  const auth = authed(req);
  const me = /** @type {User} */ (users.get(auth.userId));
  if (method === 'GET' && path === `${A}/me`) return { body: publicUser(me) };
  if (method === 'PATCH' && path === `${A}/me`) {
    for (const k of ['name', 'username', 'avatar', 'bio']) if (k in body) /** @type {any} */ (me)[k] = body[k];
    me.updatedAt = now();
    return { body: publicUser(me) };
  }
  if (method === 'PUT' && path === `${A}/me/password`) {
    if (body.currentPassword !== me.password) throw new Problem(422, 'validation', 'Validation failed', [{ field: 'currentPassword', message: 'Current password is wrong' }]);
    me.password = body.newPassword;
    return { status: 204 };
  }
  if (method === 'GET' && path === `${A}/sessions`) {
    const list = [...sessions.values()].filter((s) => s.userId === auth.userId && !s.revoked);
    return { body: { sessions: list.map((s) => ({ id: s.id, createdAt: s.createdAt, lastUsedAt: s.lastUsedAt, userAgent: s.userAgent, ip: s.ip, current: s.id === auth.sessionId })) } };
  }
  let m = /^\/api\/v1\/auth\/sessions\/([^/]+)$/.exec(path);
  if (method === 'DELETE' && m) { const s = sessions.get(m[1]); if (s && s.userId === auth.userId) s.revoked = true; return { status: 204 }; }

  // ---- templates ----
  const T = '/api/v1/templates';
  if (method === 'GET' && path === T) {
    let list = [...templates.values()].filter((t) => t.visibility === 'public' || t.ownerId === auth.userId);
    const qq = q.get('q')?.toLowerCase();
    if (qq) list = list.filter((t) => `${t.name} ${t.description}`.toLowerCase().includes(qq));
    if (q.get('category')) list = list.filter((t) => t.category === q.get('category'));
    if (q.get('tag')) list = list.filter((t) => t.tags.includes(q.get('tag')));
    if (q.get('visibility')) list = list.filter((t) => t.visibility === q.get('visibility'));
    if (q.get('owner') === 'me') list = list.filter((t) => t.ownerId === auth.userId);
    return { body: page(sortBy(list, q.get('sort') ?? '-updatedAt'), q) };
  }
  if (method === 'GET' && path === `${T}/categories`) {
    /** @type {Map<string, number>} */ const counts = new Map();
    for (const t of templates.values()) if (t.visibility === 'public' || t.ownerId === auth.userId) counts.set(t.category, (counts.get(t.category) ?? 0) + 1);
    return { body: { categories: [...counts].map(([name, count]) => ({ name, count })) } };
  }
  if (method === 'POST' && path === T) {
    required(body, ['name', 'category']);
    const t = { ...body, id: randomUUID(), ownerId: auth.userId, version: 1, createdAt: now(), updatedAt: now() };
    templates.set(t.id, t);
    return { status: 201, body: tplOut(t), headers: { ETag: `"1"` } };
  }
  m = /^\/api\/v1\/templates\/([^/]+)$/.exec(path);
  if (m) {
    const t = templates.get(m[1]);
    if (!t || (t.ownerId !== auth.userId && t.visibility !== 'public')) throw new Problem(404, 'not-found', 'Not Found');
    if (method === 'GET') return { body: tplOut(t), headers: { ETag: `"${t.version}"` } };
    if (t.ownerId !== auth.userId) throw new Problem(403, 'forbidden', 'Forbidden');
    if (method === 'PUT') {
      if (req.headers['if-match'] && req.headers['if-match'] !== `"${t.version}"`) throw new Problem(412, 'precondition-failed', 'Precondition Failed');
      Object.assign(t, body, { version: t.version + 1, updatedAt: now() });
      return { body: tplOut(t), headers: { ETag: `"${t.version}"` } };
    }
    if (method === 'DELETE') { templates.delete(t.id); return { status: 204 }; }
  }

  // ---- plans ----
  const P = '/api/v1/plans';
  /** @param {any} b @param {any} [prev] */
  const items = (b, prev) => (b.items ?? []).map((/** @type {any} */ it, /** @type {number} */ i) => ({
    id: it.id ?? randomUUID(), title: it.title, notes: it.notes ?? null, dueAt: it.dueAt ?? null, durationMinutes: it.durationMinutes ?? null,
    doneAt: it.doneAt ?? prev?.items.find((/** @type {any} */ x) => x.id === it.id)?.doneAt ?? null, position: i,
  }));
  if (method === 'GET' && path === P) {
    let list = [...plans.values()].filter((p) => p.ownerId === auth.userId);
    if (q.get('status')) list = list.filter((p) => p.status === q.get('status'));
    if (q.get('tag')) list = list.filter((p) => p.tags.includes(q.get('tag')));
    if (q.get('from')) list = list.filter((p) => (p.endDate ?? p.startDate) >= String(q.get('from')));
    if (q.get('to')) list = list.filter((p) => p.startDate <= String(q.get('to')));
    const qq = q.get('q')?.toLowerCase();
    if (qq) list = list.filter((p) => `${p.title} ${p.description}`.toLowerCase().includes(qq));
    return { body: page(sortBy(list, q.get('sort') ?? '-updatedAt'), q) };
  }
  if (method === 'GET' && path === `${P}/schedule`) {
    const from = Date.parse(String(q.get('from'))), to = Date.parse(String(q.get('to')));
    const out = [];
    for (const p of plans.values()) {
      if (p.ownerId !== auth.userId || p.status !== 'active') continue;
      for (const it of p.items) {
        const t = it.dueAt ? Date.parse(it.dueAt) : NaN;
        if (t >= from && t < to) out.push({ planId: p.id, planTitle: p.title, itemId: it.id, title: it.title, dueAt: it.dueAt, durationMinutes: it.durationMinutes, done: !!it.doneAt });
      }
    }
    out.sort((a, b) => Date.parse(a.dueAt) - Date.parse(b.dueAt));
    return { body: { items: out } };
  }
  if (method === 'POST' && path === `${P}/from-template`) {
    const key = String(req.headers['idempotency-key'] ?? '');
    if (key && idempotency.has(key)) return { status: 201, body: idempotency.get(key) };
    const t = templates.get(body.templateId);
    if (!t) throw new Problem(422, 'validation', 'Validation failed', [{ field: 'templateId', message: 'unknown template' }]);
    const p = {
      id: randomUUID(), ownerId: auth.userId, title: body.title ?? t.name, description: t.description ?? '', status: 'active',
      startDate: body.startDate, endDate: null, timezone: body.timezone, tags: t.tags ?? [], priority: 'medium',
      templateId: t.id, templateVersion: t.version,
      items: t.steps.map((/** @type {any} */ s, /** @type {number} */ i) => ({
        id: randomUUID(), title: s.title, notes: s.notes ?? null, dueAt: zoned(addDays(body.startDate, s.offsetDays), s.timeOfDay ?? '09:00', body.timezone),
        durationMinutes: s.durationMinutes ?? null, doneAt: null, position: i,
      })),
      recurrence: null, version: 1, createdAt: now(), updatedAt: now(),
    };
    plans.set(p.id, p);
    if (key) idempotency.set(key, p);
    return { status: 201, body: planOut(p), headers: { ETag: '"1"' } };
  }
  if (method === 'POST' && path === P) {
    required(body, ['title', 'startDate', 'timezone']);
    const p = { description: '', status: 'draft', endDate: null, tags: [], priority: 'medium', recurrence: null, ...body, items: items(body), id: randomUUID(), ownerId: auth.userId, templateId: null, templateVersion: null, version: 1, createdAt: now(), updatedAt: now() };
    plans.set(p.id, p);
    return { status: 201, body: planOut(p) };
  }
  m = /^\/api\/v1\/plans\/([^/]+)(\/calendar\.ics|\/items\/([^/]+))?$/.exec(path);
  if (m) {
    const p = plans.get(m[1]);
    if (!p || p.ownerId !== auth.userId) throw new Problem(404, 'not-found', 'Not Found');
    if (m[2] === '/calendar.ics' && method === 'GET') {
      const ev = p.items.filter((/** @type {any} */ i) => i.dueAt).map((/** @type {any} */ i) => `BEGIN:VEVENT\r\nUID:${i.id}\r\nDTSTART:${i.dueAt.replace(/[-:]/g, '').replace(/\.\d+/, '')}\r\nSUMMARY:${i.title}\r\nEND:VEVENT`);
      return { text: `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//plangen mock//EN\r\n${ev.join('\r\n')}\r\nEND:VCALENDAR\r\n`, headers: { 'Content-Type': 'text/calendar' } };
    }
    if (m[3] && method === 'PATCH') {
      const it = p.items.find((/** @type {any} */ i) => i.id === m?.[3]);
      if (!it) throw new Problem(404, 'not-found', 'Not Found');
      if (typeof body.done === 'boolean') it.doneAt = body.done ? now() : null;
      if (typeof body.title === 'string') it.title = body.title;
      p.version += 1; p.updatedAt = now();
      return { body: planOut(p), headers: { ETag: `"${p.version}"` } };
    }
    if (!m[2]) {
      if (method === 'GET') return { body: planOut(p), headers: { ETag: `"${p.version}"` } };
      if (method === 'PUT') {
        if (req.headers['if-match'] && req.headers['if-match'] !== `"${p.version}"`) throw new Problem(412, 'precondition-failed', 'Precondition Failed');
        Object.assign(p, body, { items: items(body, p), version: p.version + 1, updatedAt: now() });
        return { body: planOut(p), headers: { ETag: `"${p.version}"` } };
      }
      if (method === 'DELETE') { plans.delete(p.id); return { status: 204 }; }
    }
  }
  throw new Problem(404, 'not-found', `No route ${method} ${path}`);
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json' };

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname.startsWith('/api/')) {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', async () => {
      if (req.method === 'PATCH' && process.env.MOCK_PATCH_DELAY_MS) await new Promise((r) => setTimeout(r, Number(process.env.MOCK_PATCH_DELAY_MS)));
      try {
        const body = raw ? JSON.parse(raw) : {};
        const out = route(String(req.method), url.pathname, url.searchParams, body, req);
        const headers = { ...(out.headers ?? {}) };
        if (out.text !== undefined) {
          res.writeHead(out.status ?? 200, headers).end(out.text);
        } else if (out.body === undefined) {
          res.writeHead(out.status ?? 204, headers).end();
        } else {
          res.writeHead(out.status ?? 200, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(out.body));
        }
      } catch (e) {
        const p = e instanceof Problem ? e : new Problem(500, 'internal', 'Internal Server Error');
        if (!(e instanceof Problem)) console.error(e);
        res.writeHead(p.status, { 'Content-Type': 'application/problem+json', ...(p.headers ?? {}) }).end(
          JSON.stringify({ type: `https://plangen.dev/problems/${p.type}`, title: p.message, status: p.status, detail: p.message, requestId: randomUUID(), ...(p.errors ? { errors: p.errors } : {}) }),
        );
      }
    });
    return;
  }
  const file = normalize(join(dist, decodeURIComponent(url.pathname)));
  const target = file.startsWith(dist) && existsSync(file) && statSync(file).isFile() ? file : join(dist, 'index.html');
  const type = /** @type {Record<string,string>} */ (TYPES)[extname(target)] ?? 'application/octet-stream';
  res.writeHead(200, { 'Content-Type': type, 'Cache-Control': target.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache' }).end(readFileSync(target));
});

server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  console.log(`listening on http://127.0.0.1:${addr && typeof addr === 'object' ? addr.port : port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
