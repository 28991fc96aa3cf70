// Per-call cost of the real next-auth v4 functions, for bench/run.py's comparison rows.
//
// usage: node bench/node_bench.mjs <dir with node_modules holding next-auth and cookie>
// stdin:  {"secret", "token", "cookieHeader", "rounds", "iterations", "warmup"}
// stdout: {"versions": {...}, "results": {op: {"us": median µs per call, "rounds": [...]}}}
//
// Each call parses the Cookie header (Next.js does that for every request) and then runs:
//   decode            next-auth/jwt decode (the codec alone)
//   getToken          next-auth/jwt getToken({req, secret})
//   withAuth          next-auth/middleware withAuth(fn, {secret}) on a NextRequest-shaped object,
//                     valid cookie (authorized path; `next` is not installed, so `next/server`
//                     is stubbed: the authorized path never touches it)
//   getServerSession  next-auth/next getServerSession(req, res, authOptions), pages-router form
//                     (decode, callbacks, re-encode, Set-Cookie on res)

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const dir = path.resolve(process.argv[2] ?? ".");
const require = createRequire(path.join(dir, "package.json"));

// withAuth imports NextResponse from next/server; next is not a dependency of tests/node.
const Module = require("node:module");
const STUB = path.join(dir, "__bench_next_server_stub__.js");
const stub = new Module(STUB);
stub.filename = STUB;
stub.loaded = true;
stub.exports = {
  NextResponse: {
    redirect: (url) => Response.redirect(url, 307),
    next: () => new Response(null),
  },
};
Module._cache[STUB] = stub;
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === "next/server" ? STUB : resolve.call(this, request, ...rest);
};

const cookie = require("cookie");
const jwt = require("next-auth/jwt");
const { withAuth } = require("next-auth/middleware");
const { getServerSession } = require("next-auth/next");

const input = JSON.parse(await new Promise((ok) => {
  let data = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (data += chunk));
  process.stdin.on("end", () => ok(data));
}));
const { secret, token, cookieHeader } = input;
const rounds = input.rounds ?? 15;
const iterations = input.iterations ?? 500;
const warmup = input.warmup ?? 200;
process.env.NEXTAUTH_URL = "http://localhost:5000";

const quiet = { debug() {}, warn() {}, error() {} };
const authOptions = {
  secret,
  providers: [],
  logger: quiet,
  callbacks: {
    jwt: ({ token }) => token,
    session: ({ session, token }) => {
      session.user.id = token.sub;
      return session;
    },
  },
};
const middleware = withAuth(() => undefined, { secret });
const url = new URL("http://localhost:5000/dashboard");
const headers = { cookie: cookieHeader, host: "localhost:5000" };

function nextRequest() {
  return {
    nextUrl: { pathname: url.pathname, search: url.search, origin: url.origin, basePath: "" },
    headers: new Headers(headers),
    cookies: new Map(Object.entries(cookie.parse(cookieHeader))),
  };
}

function pagesRequest() {
  return { headers, cookies: cookie.parse(cookieHeader) };
}

function pagesResponse() {
  const set = {};
  return { getHeader: (name) => set[name.toLowerCase()], setHeader: (name, value) => (set[name.toLowerCase()] = value) };
}

const ops = {
  decode: async () => {
    const value = cookie.parse(cookieHeader)["next-auth.session-token"];
    return await jwt.decode({ token: value, secret });
  },
  getToken: async () => await jwt.getToken({ req: pagesRequest(), secret, logger: quiet }),
  withAuth: async () => {
    const req = nextRequest();
    await middleware(req, {});
    return req.nextauth?.token;
  },
  getServerSession: async () => await getServerSession(pagesRequest(), pagesResponse(), authOptions),
};

const results = {};
for (const [name, op] of Object.entries(ops)) {
  const check = await op();
  if (!check || (name === "getServerSession" ? !check.user?.name : !check.name)) {
    results[name] = { error: `${name} did not return the session for the bench token` };
    continue;
  }
  for (let i = 0; i < warmup; i++) await op();
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await op();
    samples.push(Number(process.hrtime.bigint() - start) / iterations / 1000);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  results[name] = { us: median, rounds: samples };
}

const nextAuthPackage = JSON.parse(readFileSync(path.join(dir, "node_modules", "next-auth", "package.json"), "utf8"));
const versions = { node: process.version, "next-auth": nextAuthPackage.version };
process.stdout.write(JSON.stringify({ versions, results }));
