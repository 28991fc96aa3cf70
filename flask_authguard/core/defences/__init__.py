"""The defences, one module each: the store behind them, sign-in throttling, revocation, the
cross-site refusal, CSRF, trusted hosts and the links and redirects built on them."""
