"""The benchmarks' baseline: a bare Django project (no apps, no middleware) on the same database.

It is served by gunicorn exactly like the product (`bench.baseline_app.wsgi:application`) and is
never part of the product's URLs.
"""
