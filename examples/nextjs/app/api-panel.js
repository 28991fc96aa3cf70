"use client";
// Calls the Flask API through the /api/py rewrite: same origin, so the browser sends the
// next-auth session cookie and Flask sees it.
import { useEffect, useState } from "react";

const CALLS = [
  ["public", "GET", "/api/py/public"],
  ["me", "GET", "/api/py/me"],
  ["admin", "GET", "/api/py/admin"],
  ["session", "GET", "/api/py/session"],
  ["note", "POST", "/api/py/notes"],
];

export default function ApiPanel() {
  const [result, setResult] = useState(null);
  const [count, setCount] = useState(0);
  const [ready, setReady] = useState(false);
  useEffect(() => setReady(true), []); // the buttons work once React has hydrated the page

  async function call(method, path) {
    const init = { method, headers: { Accept: "application/json" } };
    if (method === "POST") {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify({ text: "hello from Next.js" });
    }
    let answer;
    try {
      const response = await fetch(path, init);
      answer = { method, path, status: response.status, body: await response.text() };
    } catch (error) {
      answer = { method, path, status: 0, body: String(error) };
    }
    setResult(answer);
    setCount((n) => n + 1);
  }

  return (
    <section id="api-panel" data-ready={ready ? "true" : "false"}>
      <h2>The Flask API</h2>
      {CALLS.map(([id, method, path]) => (
        <button key={id} id={`call-${id}`} type="button" onClick={() => call(method, path)} style={{ marginRight: "0.5rem" }}>
          {method} {path}
        </button>
      ))}
      <p>
        <output id="api-result" data-count={count} data-status={result?.status ?? ""}>
          {result ? `${result.method} ${result.path} → ${result.status}` : "(no call yet)"}
        </output>
      </p>
      <pre id="api-body" style={{ whiteSpace: "pre-wrap", wordBreak: "break-all" }}>
        {result?.body ?? ""}
      </pre>
    </section>
  );
}
