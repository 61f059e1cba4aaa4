"""The facility's pages in the browser: server-rendered HTML over the same service.

An edge over the library like the API: every read and write goes through
:class:`~scoring.service.tenant.Tenant`, answers are validated by the validator and
priced by the rating engine. ``pages`` holds what every page shares (templates, the
Content-Security-Policy, forms and their CSRF check, who is signed in); ``signin``
the browser sessions; the other modules one group of pages each.
"""
