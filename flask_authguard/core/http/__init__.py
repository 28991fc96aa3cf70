"""HTTP details every layer shares: chunked session cookies and who is asking (JSON or a page)."""
