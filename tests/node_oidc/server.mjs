// A real OpenID Connect provider for flask_authguard's tests: oauth2-mock-server behind a small
// control API. Started by tests/support/oidc_server.py; prints {"port": N} on stdout once listening.
//
//   POST /__control  {"scenario": {...}}   replace the behaviour of the next requests
//   POST /__rotate                          new signing key; the old one leaves the JWKS
//   GET  /__health
//
// Scenario keys (all optional):
//   claims: {...}            merged into the ID token (and access token) payload
//   userinfo: {...}          the userinfo answer
//   authorize_error: "..."   the authorization endpoint redirects back with error=<it>
//   tamper_signature: true   the ID token's signature is broken
//   token_garbage: true      the token endpoint answers an HTML page
//   token_response: {...}    the token endpoint answers this JSON (status token_status)
import http from "node:http";
import { OAuth2Server, Events } from "oauth2-mock-server";

let scenario = {};
let generation = 0;
let current;
let issuerUrl;

async function makeInstance() {
  const server = new OAuth2Server();
  generation += 1;
  await server.issuer.keys.generate("RS256");
  server.issuer.url = issuerUrl;
  const service = server.service;
  service.on(Events.BeforeTokenSigning, (token) => {
    if (scenario.claims) Object.assign(token.payload, scenario.claims);
  });
  service.on(Events.BeforeAuthorizeRedirect, (redirect) => {
    if (scenario.authorize_error) {
      redirect.url.searchParams.delete("code");
      redirect.url.searchParams.set("error", scenario.authorize_error);
    }
  });
  service.on(Events.BeforeResponse, (response) => {
    if (scenario.token_response) {
      response.body = scenario.token_response;
      response.statusCode = scenario.token_status ?? 200;
      return;
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
    if (path === "/__control" && req.method === "POST") {
      const body = JSON.parse((await readBody(req)) || "{}");
      scenario = body.scenario ?? {};
      return json(res, 200, { ok: true });
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
