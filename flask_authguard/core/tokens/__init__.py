"""The session token: its codec (next-auth v4 and Auth.js v5 JWE), the claims checks, the
verified-token cache, decode hooks for other issuers, and reading it from a request."""
