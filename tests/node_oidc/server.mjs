// A real OpenID Connect provider for flask_authguard's tests: oauth2-mock-server behind a small
// control API. Started by tests/support/oidc_server.py; prints {"port": N} on stdout once listening.
//
//   POST /__control  {"scenario": {...}}   replace the behaviour of the next requests
//   POST /__rotate                          new signing key; the old one leaves the JWKS
//   GET  /__stats                           the refresh grant's counters since the last /__control
//   GET  /__health
//
// Scenario keys (all optional):
//   claims: {...}            merged into the ID token (and access token) payload
//   drop_claims: [...]       these claims are left out of the ID token (and access token) payload
//   auth_time_now: true      tokens say the user authenticated when they are issued (auth_time), as
//                            a provider that asks for the password at every sign-in does
//   userinfo: {...}          the userinfo answer
//   authorize_error: "..."   the authorization endpoint redirects back with error=<it>
//   tamper_signature: true   the ID token's signature is broken
//   token_garbage: true      the token endpoint answers an HTML page
//   token_response: {...}    the token endpoint answers this JSON (status token_status)
//   access_ttl: N            access tokens issued now say expires_in N (seconds)
//   refresh_refuse: true     the refresh grant answers 400 invalid_grant
//   refresh_rotate: false    the refresh grant keeps the refresh token (answers none); default:
//                            rotation, the presented token is invalid from then on
//   token_down: true         the token endpoint drops the connection without an answer
//   token_delay_ms: N        the token endpoint answers after N ms
//
// The refresh grant (grant_type=refresh_token) is checked here: only a refresh token this server
// issued and that was not rotated out is accepted. /__stats counts its calls: "refresh_calls"
// (every refresh grant request), "refused", "reused" (a rotated-out token presented again) and
// "down" (token requests dropped by token_down).
import http from "node:http";
import { randomUUID } from "node:crypto";
import { OAuth2Server, Events } from "oauth2-mock-server";

let scenario = {};
let generation = 0;
// Refresh tokens this server issued that are still good, and those rotated out.
const validRefresh = new Set();
const usedRefresh = new Set();
let stats = freshStats();

function freshStats() {
  return { refresh_calls: 0, refused: 0, reused: 0, down: 0 };
}

function refuse(response, description) {
  response.body = { error: "invalid_grant", error_description: description };
  response.statusCode = 400;
}

// The refresh grant's rules, on the answer the mock server built (it accepts any refresh token).
function refreshGrant(response, body) {
  stats.refresh_calls += 1;
  const presented = body.refresh_token;
  if (usedRefresh.has(presented)) {
    stats.reused += 1;
    return refuse(response, "refresh token was rotated out");
  }
  if (scenario.refresh_refuse) {
    stats.refused += 1;
    return refuse(response, "refused by the scenario");
  }
  if (!validRefresh.has(presented)) {
    stats.refused += 1;
    return refuse(response, "unknown refresh token");
  }
  if (scenario.refresh_rotate === false) {
    delete response.body.refresh_token;
  } else {
    validRefresh.delete(presented);
    usedRefresh.add(presented);
  }
}
let current;
let issuerUrl;

async function makeInstance() {
  const server = new OAuth2Server();
  generation += 1;
  await server.issuer.keys.generate("RS256");
  server.issuer.url = issuerUrl;
  const service = server.service;
  service.on(Events.BeforeTokenSigning, (token) => {
    token.payload.jti = randomUUID(); // two tokens issued in one second differ
    if (scenario.auth_time_now) token.payload.auth_time = Math.floor(Date.now() / 1000);
    if (scenario.claims) Object.assign(token.payload, scenario.claims);
    for (const name of scenario.drop_claims ?? []) delete token.payload[name];
  });
  service.on(Events.BeforeAuthorizeRedirect, (redirect) => {
    if (scenario.authorize_error) {
      redirect.url.searchParams.delete("code");
      redirect.url.searchParams.set("error", scenario.authorize_error);
    }
  });
  service.on(Events.BeforeResponse, (response, req) => {
    if (scenario.token_response) {
      response.body = scenario.token_response;
      response.statusCode = scenario.token_status ?? 200;
      return;
    }
    const grant = req.body?.grant_type;
    if (grant === "refresh_token") {
      refreshGrant(response, req.body);
      if (response.statusCode !== 200) return;
    }
    if (grant === "authorization_code" || grant === "refresh_token") {
      if (response.body.refresh_token) validRefresh.add(response.body.refresh_token);
      if (scenario.access_ttl !== undefined) response.body.expires_in = scenario.access_ttl;
    }
    if (scenario.tamper_signature && response.body.id_token) {
      const parts = response.body.id_token.split(".");
      const sig = Buffer.from(parts[2], "base64url");
      sig[0] ^= 0xff;
      parts[2] = sig.toString("base64url");
      response.body.id_token = parts.join(".");
    }
  });
  service.on(Events.BeforeUserinfo, (response) => {
    if (scenario.userinfo) response.body = scenario.userinfo;
  });
  return server;
}

function readBody(req) {
  return new Promise((resolve) => {
    let data = "";
    req.on("data", (chunk) => (data += chunk));
    req.on("end", () => resolve(data));
  });
}

function json(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

const httpServer = http.createServer(async (req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  try {
    if (path === "/__health") return json(res, 200, { ok: true, generation });
    if (path === "/__stats") return json(res, 200, stats);
    if (path === "/__control" && req.method === "POST") {
      const body = JSON.parse((await readBody(req)) || "{}");
      scenario = body.scenario ?? {};
      stats = freshStats();
      return json(res, 200, { ok: true });
    }
    if (path === "/token" && scenario.token_down) {
      stats.down += 1;
      return req.socket.destroy();
    }
    if (path === "/token" && scenario.token_delay_ms) {
      await new Promise((resolve) => setTimeout(resolve, scenario.token_delay_ms));
    }
    if (path === "/__rotate" && req.method === "POST") {
      current = await makeInstance();
      return json(res, 200, { ok: true, generation, kid: current.issuer.keys.toJSON()[0].kid });
    }
    if (path === "/token" && req.method === "POST" && scenario.token_garbage) {
      await readBody(req);
      res.writeHead(200, { "Content-Type": "text/html" });
      return res.end("<html><body>Service temporarily unavailable</body></html>");
    }
    current.service.requestHandler(req, res);
  } catch (err) {
    json(res, 500, { error: String(err) });
  }
});

httpServer.listen(Number(process.env.OIDC_PORT || 0), "127.0.0.1", async () => {
  issuerUrl = `http://127.0.0.1:${httpServer.address().port}`;
  current = await makeInstance();
  process.stdout.write(JSON.stringify({ port: httpServer.address().port, issuer: issuerUrl }) + "\n");
});
process.on("SIGTERM", () => httpServer.close(() => process.exit(0)));
