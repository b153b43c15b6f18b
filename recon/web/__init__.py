"""`recon web` (issue 15): the cases as a small web app for finance, server-rendered HTML.

Import from the modules, each named after what it holds (the package itself imports nothing, so
that `recon web hash-password` loads neither FastAPI nor DuckDB):

- `passwords`: scrypt hashes of passwords and API keys, as one self-describing string;
- `config`: the users file (YAML or TOML) and its validation;
- `sessions`: the signed session cookie and its CSRF token;
- `auth`: who is asking (session or API key) and what they may do;
- `warehouse`: a short connection per request, read-only unless it acts;
- `listing`: the work list's filters and pages;
- `evidence`: the landed rows behind a discrepancy, when the warehouse has them;
- `rendering`: the Jinja2 templates and their filters;
- `form_body`: reading a posted form;
- `signin`, `case_pages`, `case_forms`: the routes;
- `state`: what the routes share;
- `app`: `WebSettings` and `create_app`, which puts them together.
"""
