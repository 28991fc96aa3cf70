"""Benchmarks for flask_authguard: ``python bench/run.py`` (see ``bench/run.py``)."""
