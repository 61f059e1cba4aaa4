"""The service: ``carescore serve``, an HTTP API over the same library as the CLI.

Organisations (agencies and facilities), their users and API keys, facilities and
their assessments, and the scores of submitted assessments are kept in a database
(SQLite in a data folder by default, PostgreSQL in production), every read and write
of an assessment in an audit log. Answers are validated by
:func:`scoring.validate_document` and scored by :func:`scoring.score`: no rule,
encoding or price is computed here.

* :mod:`scoring.service.tables` - the tables (SQLAlchemy);
* :mod:`scoring.service.database` - connecting, SQLite's settings, migrations (Alembic);
* :mod:`scoring.service.accounts` - organisations, users and API keys;
* :mod:`scoring.service.tenant` - every read and write, scoped to one organisation;
* :mod:`scoring.service.api` - the HTTP API (FastAPI).
"""
