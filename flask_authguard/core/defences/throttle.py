"""Sign-in throttling: attempts counted per client address, per identifier from that address,
and per identifier from all addresses together, in the store.

.. code-block:: python

    throttle = Throttle(config)
    wait = throttle.attempt(identifiers=("alice@example.com",), address="203.0.113.7")
    if wait is not None:
        ...  # answer 429 with Retry-After: wait
    ...      # check the password; on success:
    throttle.succeeded("alice@example.com", "203.0.113.7")

Three limits, checked in this order, the first one over its limit refusing (and the later ones
then not counted):

- ``per_address`` (``throttle.per_address``): every attempt from one client address;
- per identifier and address (``throttle.per_identifier``, the tight one): what one address may
  try against one account. Another address has its own count, so one address guessing cannot
  lock the owner out of signing in from elsewhere;
- per identifier (``throttle.per_identifier_global``, looser, and checked at start-up to allow
  more than one address can reach): guesses at one account from many addresses stay capped.

Every attempt counts (so concurrent guesses cannot slip past the limit: ``limits`` hits the
counter atomically, in Redis too); a success resets the identifier's count from that address
only, never the global one or the address's. Identifiers and addresses are hashed before they
reach the store (no email addresses in Redis). The window is the ``limits`` library's moving
window.

Who is counted. The identifiers come from exactly what the provider acts on, so that no spelling or
extra field moves an attempt to a fresh counter:

- email: the address the mail goes to (the provider's ``recipient``: normalised, one recipient);
- credentials: the dict ``authorize`` receives
  (:func:`~flask_authguard.providers.base.submitted_credentials`: numbers as text), every field in
  it that may name the account counted on its own. With ``credentials=`` declared that is each
  declared field but passwords and fixed choices (checkbox, radio, select, hidden: the same for
  everybody); with none declared, each of the usual login fields present (:data:`LOGIN_FIELDS`),
  since ``authorize`` then also receives whatever else the client adds. A decoy field only adds a
  counter; the real one is still hit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
import typing as t
import unicodedata

from ..settings.config import Config
from .store import Store, store_for

if t.TYPE_CHECKING:
    from limits import RateLimitItem


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def normalize_identifier(value: str) -> str | None:
    """The identifier a sign-in attempt is counted under: its skeleton, so that every spelling
    an ``authorize`` might accept for one account shares one counter (a database collation
    compares without case, accents or ignorable characters: MySQL's ``utf8mb4_general_ci``
    finds ``alice`` for ``àlicé``, ``utf8mb4_unicode_ci`` for ``al\u200bice``). Compatibility
    forms unified (a full-width ``ａｌｉｃｅ``), accents and other combining marks dropped,
    invisible format characters (zero-width spaces, joiners) dropped, blanks collapsed and
    trimmed, case folded; ``None`` for an empty one. Merging too much only makes a counter
    stricter."""
    decomposed = unicodedata.normalize("NFKD", value)
    kept = "".join(c for c in decomposed if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    text = " ".join(unicodedata.normalize("NFKC", kept).split()).casefold()
    return text or None


#: Unicode categories left out of an identifier's skeleton: combining marks (accents) and
#: format characters (zero-width space and joiners, soft hyphen, bidirectional marks).
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})
#: How much of an IPv6 address one client holds: a /64 (one subnet is one customer's).
IPV6_CLIENT_PREFIX = 64


def client_of(address: str) -> str:
    """The client an address stands for, as counted: an IPv6 address's /64 (a client that has
    one picks any of its 2**64 addresses; counting each alone would give it as many budgets),
    an IPv4-mapped IPv6 address as its IPv4 address, anything else as it is."""
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])  # a zone index names no client
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(parsed)


class Throttle:
    """The sign-in limits of ``config`` (``throttle.per_address``, ``throttle.per_identifier``,
    ``throttle.per_identifier_global``).

    :param config: the resolved options.
    :param store: the store, or a function giving it on first use; default the options' own
        (:func:`~flask_authguard.core.defences.store.store_for`; the runtime passes its own).
    """

    def __init__(self, config: Config, store: Store | t.Callable[[], Store] | None = None) -> None:
        from limits import parse_many

        #: Whether throttling is on at all.
        self.enabled = config.throttle_identifier is not None
        self._per_pair: list[RateLimitItem] = parse_many(config.throttle_identifier or "1/second")
        self._per_identifier: list[RateLimitItem] = parse_many(
            config.throttle_identifier_global or "1/second"
        )
        self._per_address: list[RateLimitItem] = parse_many(config.throttle_address or "1/second")
        self._config = config
        self._store: t.Any = store

    @property
    def store(self) -> Store:
        """The store the counters live in."""
        store = self._store
        if store is None:
            store = self._store = store_for(self._config)
        elif not hasattr(store, "get_many"):  # the function that opens it
            store = self._store = store()
        return t.cast(Store, store)

    def _hit(self, items: t.Sequence[RateLimitItem], *key: str) -> int | None:
        store = self.store
        for item in items:
            if not store.limiter.hit(item, store.prefix, *key):
                stats = store.limiter.get_window_stats(item, store.prefix, *key)
                return int(max(1.0, math.ceil(stats.reset_time - time.time())))  # the clock ``limits`` reads
        return None

    def attempt(self, *, identifiers: t.Sequence[str], address: str | None) -> int | None:
        """Count one sign-in attempt at ``identifiers`` (normalised:
        :func:`normalize_identifier`) from ``address``: ``None`` to go on, or the seconds to
        wait (``Retry-After``) when a limit is reached.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        if not self.enabled:
            return None
        place = _digest(client_of(address)) if address else "-"
        if address:
            wait = self._hit(self._per_address, "addr", place)
            if wait is not None:
                return wait
        for identifier in identifiers:
            who = _digest(identifier)
            # The pair first: an address over its own limit adds nothing to the global count,
            # so that one address can never use the global limit up.
            wait = self._hit(self._per_pair, "pair", who, place)
            if wait is None:
                wait = self._hit(self._per_identifier, "id", who)
            if wait is not None:
                return wait
        return None

    def succeeded(self, identifier: str, address: str | None) -> None:
        """A sign-in as ``identifier`` from ``address`` succeeded: forget that address's attempts
        at it. The global count stays: a success proves nothing about the other addresses.

        :raises BackendUnavailableError: the store cannot be reached.
        """
        if not self.enabled:
            return
        store = self.store
        place = _digest(client_of(address)) if address else "-"
        for item in self._per_pair:
            store.limiter.clear(item, store.prefix, "pair", _digest(identifier), place)


#: Provider types whose sign-ins are throttled (they take a secret or send mail), and the step
#: counted: the credentials' callback (the password check), the email's start (the mail sent).
THROTTLED_STEPS = {"credentials": "callback", "email": "start"}
#: With no ``credentials=`` declared: the fields counted when present.
LOGIN_FIELDS = ("email", "username", "identifier", "login", "user")
#: Declared field types that cannot name one account: a secret, or a choice everybody shares
#: (counting it would make one counter for everyone who picks it).
_NOT_NAMING = frozenset({"password", "checkbox", "radio", "select", "hidden"})


class Counted(t.NamedTuple):
    """Who a sign-in attempt was counted as, for :func:`succeeded`."""

    #: The normalised identifiers, each counted on its own.
    identifiers: tuple[str, ...]
    #: The client address (``REMOTE_ADDR``).
    address: str | None
    #: Whether a success may reset the identifier's count from this address: the attempt named
    #: exactly one identifier and nothing else ``authorize`` received could name another account.
    #: (Otherwise signing in as oneself with the victim's name in a second field would wipe the
    #: count of the guesses at the victim.)
    resettable: bool


def identifiers_of(
    provider: t.Any, form: t.Mapping[str, t.Any], submitted: t.Mapping[str, str]
) -> tuple[str, ...]:
    """The normalised identifiers a sign-in is counted under (see "Who is counted" above).

    :param form: the submitted form (the email provider's ``email``).
    :param submitted: what ``authorize`` receives (a credentials provider's sign-in).
    """
    return _who(provider, form, submitted)[0]


def _who(
    provider: t.Any, form: t.Mapping[str, t.Any], submitted: t.Mapping[str, str]
) -> tuple[tuple[str, ...], bool]:
    """``(identifiers, resettable)`` of a sign-in (see :class:`Counted`)."""
    if getattr(provider, "type", None) == "email":
        recipient = getattr(provider, "recipient", None)
        raw = form.get("email")
        try:
            address = recipient(raw) if callable(recipient) else raw
        except Exception:  # no mail will be sent: the address limit alone counts it
            return (), False
        found = normalize_identifier(address) if isinstance(address, str) else None
        return ((found,) if found else ()), True
    declared: t.Mapping[str, t.Mapping[str, t.Any]] = getattr(provider, "credentials", None) or {}
    if declared:
        names = [name for name, spec in declared.items() if spec.get("type") not in _NOT_NAMING]
        unknown = False  # every other field authorize gets is a password or a shared choice
    else:
        names = [name for name in LOGIN_FIELDS if name in submitted]
        unknown = any(value for name, value in submitted.items() if name not in names and name != "password")
    values = [normalize_identifier(submitted[name]) for name in names]
    identifiers = tuple(dict.fromkeys(value for value in values if value))
    return identifiers, len(identifiers) == 1 and not unknown


def check_sign_in(
    throttle: Throttle,
    provider: t.Any,
    form: t.Mapping[str, t.Any],
    submitted: t.Mapping[str, str],
    address: str | None,
    step: str,
) -> tuple[int | None, Counted | None]:
    """Count a sign-in attempt with ``provider`` at ``step`` (``"start"``: ``POST /signin/<id>``,
    ``"callback"``: ``/callback/<id>``): ``(seconds to wait or None, who was counted)``.

    :param submitted: what ``authorize`` receives (credentials); ``form``: the submitted form.
    :param address: the client address (``REMOTE_ADDR``).
    :raises BackendUnavailableError: the store cannot be reached.
    """
    if THROTTLED_STEPS.get(getattr(provider, "type", None) or "") != step:
        return None, None
    identifiers, resettable = _who(provider, form, submitted)
    wait = throttle.attempt(identifiers=identifiers, address=address)
    return wait, Counted(identifiers, address, resettable)


def succeeded(throttle: Throttle, counted: Counted | None) -> None:
    """A throttled sign-in succeeded: reset its identifier's count from its address, when
    :attr:`Counted.resettable`."""
    if counted is not None and counted.resettable:
        throttle.succeeded(counted.identifiers[0], counted.address)
