// The real next-auth (v4) and @auth/core (v5) token functions behind a JSON pipe, for
// flask_authguard's round-trip tests (driven by tests/support/nodejs.py).
//
// stdin:  one JSON request, or a JSON list of them (one node start-up for a whole batch)
// stdout: one JSON result, or a list of results in the same order
//
// A request is {op, ...params, now?, env?}:
//   encode    {token, secret, maxAge?, salt?}          next-auth/jwt encode (v4)
//   decode    {token, secret, salt?}                   next-auth/jwt decode
//   getToken  {req: {headers, cookies?}, secret?, raw?, secureCookie?, cookieName?}
//             headers is a plain object (lower-case names); without `cookies`, the `cookie`
//             header is parsed into a plain object the way Next.js API routes do; `cookies`
//             may be an object or a list of [name, value] pairs (read as a Map, in order)
//   chunk     {name, value, secure?, existing?, expires?}  next-auth's SessionStore.chunk
//   v5encode  {token, secret, salt, maxAge?}           @auth/core/jwt encode
//   v5decode  {token, secret, salt}                    @auth/core/jwt decode
//   v5getToken {req: {headers}, secret?, salt?, raw?, secureCookie?, cookieName?}
//   v5chunk   {name, value, secure?, existing?, expires?}  @auth/core's SessionStore.chunk
// `now` (seconds) freezes Date.now for that request; `env` sets process.env entries for it
// (a null value unsets one).
//
// A result is {ok: true, value} or {ok: false, error: {name, code, message}}.

import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

import * as cookie from "cookie";
import * as v5 from "@auth/core/jwt";
import * as v4 from "next-auth/jwt";

const require = createRequire(import.meta.url);
// Neither package exports its cookie module; reach it by path next to the exported jwt module.
const v4Cookies = require(path.join(path.dirname(require.resolve("next-auth/jwt")), "..", "core", "lib", "cookie.js"));
const v5Cookies = await import(
  pathToFileURL(path.join(path.dirname(require.resolve("@auth/core/jwt")), "lib", "utils", "cookie.js")).href
);

const quietLogger = { debug() {}, warn() {}, error() {}, info() {} };

function requestCookies(req) {
  if (Array.isArray(req.cookies)) return new Map(req.cookies);
  if (req.cookies) return req.cookies;
  const header = req.headers?.cookie;
  return header ? cookie.parse(header) : {};
}

function chunkWith(store, { value, expires }) {
  const options = expires === undefined ? {} : { expires: new Date(expires * 1000) };
  return store.chunk(value, options).map((c) => ({
    name: c.name,
    value: c.value,
    options: c.options,
    setCookie: cookie.serialize(c.name, c.value, c.options),
  }));
}

const ops = {
  encode: (p) => v4.encode({ token: p.token, secret: p.secret, maxAge: p.maxAge, salt: p.salt }),
  decode: (p) => v4.decode({ token: p.token, secret: p.secret, salt: p.salt }),
  getToken: (p) => {
    const req = { headers: p.req?.headers ?? {}, cookies: requestCookies(p.req ?? {}) };
    return v4.getToken({
      req,
      secret: p.secret,
      raw: p.raw,
      secureCookie: p.secureCookie,
      cookieName: p.cookieName,
      logger: quietLogger,
    });
  },
  chunk: (p) => {
    const option = { name: p.name, options: { httpOnly: true, sameSite: "lax", path: "/", secure: !!p.secure } };
    const existing = Object.fromEntries((p.existing ?? []).map((n) => [n, "x"]));
    return chunkWith(new v4Cookies.SessionStore(option, { cookies: existing, headers: {} }, quietLogger), p);
  },
  v5encode: (p) => v5.encode({ token: p.token, secret: p.secret, salt: p.salt, maxAge: p.maxAge }),
  v5decode: (p) => v5.decode({ token: p.token, secret: p.secret, salt: p.salt }),
  v5getToken: (p) =>
    v5.getToken({
      req: { headers: p.req?.headers ?? {} },
      secret: p.secret,
      salt: p.salt,
      raw: p.raw,
      secureCookie: p.secureCookie,
      cookieName: p.cookieName,
      logger: quietLogger,
    }),
  v5chunk: (p) => {
    const option = { name: p.name, options: { httpOnly: true, sameSite: "lax", path: "/", secure: !!p.secure } };
    const existing = Object.fromEntries((p.existing ?? []).map((n) => [n, "x"]));
    return chunkWith(new v5Cookies.SessionStore(option, existing, quietLogger), p);
  },
};

const RealDate = Date;

// jose reads the clock through `new Date()`, next-auth through `Date.now()`: freeze both.
function frozenDate(ms) {
  return class FrozenDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(ms);
      else super(...args);
    }

    static now() {
      return ms;
    }
  };
}

async function run(request) {
  const op = ops[request?.op];
  if (!op) return { ok: false, error: { name: "UsageError", code: null, message: `unknown op ${request?.op}` } };
  const saved = {};
  for (const [name, value] of Object.entries(request.env ?? {})) {
    saved[name] = process.env[name];
    if (value === null) delete process.env[name];
    else process.env[name] = value;
  }
  if (typeof request.now === "number") globalThis.Date = frozenDate(request.now * 1000);
  try {
    const value = await op(request);
    return { ok: true, value: value ?? null };
  } catch (err) {
    return { ok: false, error: { name: err?.name ?? "Error", code: err?.code ?? null, message: String(err?.message ?? err) } };
  } finally {
    globalThis.Date = RealDate;
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

let input = "";
for await (const data of process.stdin) input += data;
const parsed = JSON.parse(input);
const results = [];
for (const request of Array.isArray(parsed) ? parsed : [parsed]) results.push(await run(request));
process.stdout.write(JSON.stringify(Array.isArray(parsed) ? results : results[0]) + "\n");
