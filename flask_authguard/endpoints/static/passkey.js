// flask_authguard: passkeys on the built-in pages (sign in with one, add one). Served by the auth
// routes (GET <base>/passkey.js), no dependencies, no inline code: the pages' CSP allows only
// scripts from their own origin.
//
// A form with data-passkey="authenticate" or "register" and data-options="<options URL>" starts
// hidden; where the browser can use passkeys it is shown, and submitting it fetches Auth.js's
// options JSON, runs the browser's ceremony, and posts Auth.js's fields (action, data: the JSON
// of PublicKeyCredential.toJSON()) with the form's csrfToken and callbackUrl.
"use strict";
(function () {
  function toBytes(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function toText(buffer) {
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((d) => Object.assign({}, d, { id: toBytes(d.id) }));
  }

  // PublicKeyCredential.toJSON(), written out for browsers that lack it.
  function credentialJSON(credential) {
    const r = credential.response;
    const response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  async function ceremony(form) {
    const action = form.dataset.passkey;
    const url = new URL(form.dataset.options, window.location.href);
    url.searchParams.set("action", action);
    const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await answer.json();
    if (!answer.ok) throw new Error(body.message || body.error || "the server refused");
    if (body.action !== action) throw new Error("sign in first to add a passkey");
    const options = body.options;
    let credential;
    if (action === "register") {
      const publicKey = Object.assign({}, options, {
        challenge: toBytes(options.challenge),
        user: Object.assign({}, options.user, { id: toBytes(options.user.id) }),
        excludeCredentials: descriptors(options.excludeCredentials),
      });
      credential = await navigator.credentials.create({ publicKey: publicKey });
    } else {
      const publicKey = Object.assign({}, options, {
        challenge: toBytes(options.challenge),
        allowCredentials: descriptors(options.allowCredentials),
      });
      credential = await navigator.credentials.get({ publicKey: publicKey });
    }
    form.elements.namedItem("action").value = action;
    form.elements.namedItem("data").value = JSON.stringify(credentialJSON(credential));
    form.submit();
  }

  function start() {
    const forms = document.querySelectorAll("form[data-passkey]");
    for (const form of forms) {
      if (!window.PublicKeyCredential) continue;
      const status = form.querySelector("[data-passkey-status]");
      const button = form.querySelector("button");
      form.hidden = false;
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        status.textContent = "";
        button.disabled = true;
        try {
          await ceremony(form);
        } catch (error) {
          status.textContent =
            error && error.name === "NotAllowedError"
              ? "The passkey request was cancelled or timed out."
              : "The passkey did not work: " + (error && error.message ? error.message : error);
          button.disabled = false;
        }
      });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
