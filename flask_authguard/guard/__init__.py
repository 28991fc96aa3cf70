"""The guard, framework-free: the one decision every front end calls (:class:`AuthCore`),
its answers, how it reads a request, and the private-cache rule for what it checked."""

from .decision import AuthCore, InnerMiddleware

__all__ = ["AuthCore", "InnerMiddleware"]
