"""Who may do what, for every front-end that serves people over HTTP: API keys and their
roles, the principal behind a request, tenancy (which banks and cases a caller may see), rate
limits, the client's address behind trusted proxies, the security headers of HTML answers, and
the services one server process shares (database, key checks).

Why a package of its own: the HTTP API (rempart.api) and the caseworker web UI (rempart.web)
both need these, and neither may import the other (the API never imports the UI, the UI never
imports the API); rempart.server composes the two into one application. Nothing here imports
FastAPI's routing: refusals are rempart.errors exceptions each front-end renders its own way.
"""
