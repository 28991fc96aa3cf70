"""The flask_authguard demo app: ``python -m examples.demo`` or ``python examples/demo/app.py``."""
