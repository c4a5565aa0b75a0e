#!/bin/sh
# The container's entrypoint: the database password comes from a secret file
# (REMPART_DB_PASSWORD_FILE, e.g. /run/secrets/db_password), never from the environment:
# it is written into a libpq password file in the container's private /tmp (mode 0600),
# PGPASSFILE (compose.yaml sets it for every process, `docker compose exec` included, which
# skips this entrypoint), that psycopg and pg_dump read, so REMPART_DB holds no password.
# Then the command runs.
set -eu
if [ -n "${REMPART_DB_PASSWORD_FILE:-}" ]; then
	if [ ! -r "$REMPART_DB_PASSWORD_FILE" ]; then
		echo "rempart: cannot read REMPART_DB_PASSWORD_FILE ($REMPART_DB_PASSWORD_FILE)" >&2
		exit 2
	fi
	umask 077
	PGPASSFILE=${PGPASSFILE:-${TMPDIR:-/tmp}/rempart.pgpass}
	printf '*:*:*:*:%s\n' "$(sed -e 's/\\/\\\\/g' -e 's/:/\\:/g' "$REMPART_DB_PASSWORD_FILE" | head -n 1)" >"$PGPASSFILE"
	export PGPASSFILE
fi
exec "$@"
