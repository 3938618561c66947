"""The Django project's tests run in a pytest of their own (see test_django.py), never here."""

collect_ignore = ["django_project"]
