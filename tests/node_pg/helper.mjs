// The real next-auth v4 with @auth/pg-adapter behind a JSON pipe, for flask_authguard's
// database-session interop tests (driven by tests/interop/test_interop_pg.py).
//
// stdin:  a JSON list of requests; stdout: a JSON list of results, in the same order.
// Every request carries {op, database: {connectionString, schema}, secret, url?, maxAge?,
// updateAge?}: one pg Pool per request, its search_path set to `schema`, ended afterwards.
//
//   emailSignIn    {email}      the real email sign-in flow through next-auth's API handler:
//                  GET /csrf, POST /signin/email (the verification URL is captured instead of
//                  mailed), GET /callback/email?token=...; answers {sessionToken, setCookie}
//   getServerSession {cookies}  getServerSession(req, res, authOptions), pages-router form;
//                  answers {session, setCookie}
//   signOut        {cookies}    GET /csrf, then POST /signout; answers {status, setCookie}
//   getUserByAccount {provider, providerAccountId}   @auth/pg-adapter's getUserByAccount
//
// A result is {ok: true, value} or {ok: false, error: {name, message}}.

import PostgresAdapter from "@auth/pg-adapter";
import pg from "pg";
import nextAuth from "next-auth";

// next-auth is CommonJS: its default export sits on `.default`.
const NextAuth = nextAuth.default ?? nextAuth;
const { getServerSession } = nextAuth;

// Node stand-ins for Next.js's pages-router req/res: what next-auth reads and writes.
function request({ method = "GET", cookies = {}, query = {}, body = undefined, headers = {} }) {
  return { method, cookies, query, body, headers: { host: "localhost:3000", ...headers } };
}

function response() {
  const headers = {};
  const res = {
    statusCode: 200,
    body: undefined,
    getHeader: (name) => headers[name.toLowerCase()],
    setHeader: (name, value) => {
      headers[name.toLowerCase()] = value;
      return res;
    },
    status: (code) => {
      res.statusCode = code;
      return res;
    },
    send: (body) => {
      res.body = body;
      return res;
    },
    json: (body) => {
      res.body = body;
      return res;
    },
    end: () => res,
    headers,
  };
  return res;
}

function setCookies(res) {
  const value = res.getHeader("Set-Cookie") ?? [];
  return Array.isArray(value) ? value : [value];
}

function cookieJar(jar, res) {
  for (const header of setCookies(res)) {
    const [pair] = header.split(";");
    const index = pair.indexOf("=");
    const name = pair.slice(0, index);
    const value = decodeURIComponent(pair.slice(index + 1));
    if (value === "") delete jar[name];
    else jar[name] = value;
  }
  return jar;
}

function authOptions(p, pool, mailbox) {
  return {
    secret: p.secret,
    adapter: PostgresAdapter(pool),
    session: { strategy: "database", maxAge: p.maxAge ?? 2592000, updateAge: p.updateAge ?? 86400 },
    providers: [
      {
        id: "email",
        type: "email",
        name: "Email",
        server: "",
        from: "noreply@example.com",
        maxAge: 24 * 60 * 60,
        options: {},
        async sendVerificationRequest({ identifier, url }) {
          mailbox.push({ identifier, url });
        },
      },
    ],
    logger: { error() {}, warn() {}, debug() {} },
  };
}

async function api(options, action, { method = "GET", cookies = {}, query = {}, body } = {}) {
  const req = request({ method, cookies, body, query: { ...query, nextauth: action } });
  const res = response();
  await NextAuth(req, res, options);
  return res;
}

async function csrf(options, jar) {
  const res = await api(options, ["csrf"], { cookies: jar });
  cookieJar(jar, res);
  return res.body.csrfToken;
}

const ops = {
  async getUserByAccount(p, pool) {
    return PostgresAdapter(pool).getUserByAccount({ provider: p.provider, providerAccountId: p.providerAccountId });
  },
  async emailSignIn(p, pool) {
    const mailbox = [];
    const options = authOptions(p, pool, mailbox);
    const jar = {};
    const csrfToken = await csrf(options, jar);
    const sent = await api(options, ["signin", "email"], {
      method: "POST",
      cookies: jar,
      body: { csrfToken, email: p.email, callbackUrl: "http://localhost:3000/" },
    });
    cookieJar(jar, sent);
    if (mailbox.length !== 1) throw new Error(`no verification mail (status ${sent.statusCode}, ${sent.getHeader("location")})`);
    const link = new URL(mailbox[0].url);
    const done = await api(options, ["callback", "email"], {
      cookies: jar,
      query: Object.fromEntries(link.searchParams),
    });
    const setCookie = setCookies(done);
    cookieJar(jar, done);
    return { status: done.statusCode, location: done.getHeader("location"), sessionToken: jar["next-auth.session-token"] ?? null, setCookie };
  },
  async getServerSession(p, pool) {
    const res = response();
    const session = await getServerSession(request({ cookies: p.cookies }), res, authOptions(p, pool, []));
    return { session, setCookie: setCookies(res) };
  },
  async signOut(p, pool) {
    const options = authOptions(p, pool, []);
    const jar = { ...p.cookies };
    const csrfToken = await csrf(options, jar);
    const res = await api(options, ["signout"], { method: "POST", cookies: jar, body: { csrfToken } });
    return { status: res.statusCode, location: res.getHeader("location"), setCookie: setCookies(res) };
  },
};

async function run(p) {
  const op = ops[p?.op];
  if (!op) return { ok: false, error: { name: "UsageError", message: `unknown op ${p?.op}` } };
  const saved = process.env.NEXTAUTH_URL;
  process.env.NEXTAUTH_URL = p.url ?? "http://localhost:3000";
  const pool = new pg.Pool({
    connectionString: p.database.connectionString,
    options: `-c search_path=${p.database.schema}`,
    max: 2,
  });
  try {
    return { ok: true, value: (await op(p, pool)) ?? null };
  } catch (err) {
    return { ok: false, error: { name: err?.name ?? "Error", message: String(err?.stack ?? err?.message ?? err) } };
  } finally {
    await pool.end();
    if (saved === undefined) delete process.env.NEXTAUTH_URL;
    else process.env.NEXTAUTH_URL = saved;
  }
}

let input = "";
for await (const data of process.stdin) input += data;
const results = [];
for (const request of JSON.parse(input)) results.push(await run(request));
process.stdout.write(JSON.stringify(results) + "\n");
