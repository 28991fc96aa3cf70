"""What the property tests ("proof at scale") share: whatever the input, no exception escapes, no
forged token is accepted, no redirect leaves the site, and the defence rules hold. Each property
sits in the test file of the module it proves, and states its invariant."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Bounded (``max_examples``) so that the suite stays fast.
BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Header text as a WSGI server may hand it: Latin-1 and a little beyond.
HEADER_CHARS = st.characters(min_codepoint=0, max_codepoint=0x2FF)
