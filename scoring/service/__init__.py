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
* :mod:`scoring.service.roles` - what each role may do: one table, checked in one place;
* :mod:`scoring.service.tenant` - every read and write, scoped to one organisation;
* :mod:`scoring.service.books`, :mod:`scoring.service.book_files` and
  :mod:`scoring.service.jobs` - uploaded books, their files in the database, and the
  background jobs that score them (claimed by one worker, leased, run again after a
  restart);
* :mod:`scoring.service.rate` - per-caller rate limits in bounded memory;
* :mod:`scoring.service.schemas` and :mod:`scoring.service.api` - the HTTP API
  (FastAPI): its requests and answers, and its routes.
"""
