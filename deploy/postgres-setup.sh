#!/bin/sh
# Creates Rempart's PostgreSQL role and database on this machine (Debian's postgresql
# package), for REMPART_DB=postgresql://rempart@/rempart?host=/run/postgresql:
#   - a role named like the system user that runs rempart.service, logging in over the
#     unix socket with peer authentication (Debian's default for local connections):
#     no password to store or leak;
#   - a database owned by that role (Rempart creates and migrates its tables itself);
#   - no access for anyone else (PUBLIC loses CONNECT and the public schema's CREATE).
# Run as root: sudo sh deploy/postgres-setup.sh [ROLE] [DATABASE]
# It is idempotent: run again, it changes nothing. PGHOST/PGPORT/PGUSER choose another
# server (tests/deploy/test_recipes.py points it at the tests' own).
set -eu

role=${1:-rempart}
database=${2:-rempart}
case "$role$database" in
	*[!a-z0-9_]*) echo "postgres-setup: names may hold a-z, 0-9 and _ only" >&2; exit 2 ;;
esac

# As root, psql runs as the postgres superuser (peer authentication); as anyone else, as
# that user (the postgres user itself, or a superuser that PGUSER names).
if [ "$(id -u)" -eq 0 ]; then
	as_postgres() { runuser -u postgres -- "$@"; }
else
	as_postgres() { "$@"; }
fi
psql_admin() {
	as_postgres psql --no-psqlrc --quiet --set ON_ERROR_STOP=1 --dbname "${PGADMIN_DB:-postgres}" "$@"
}

psql_admin --set role="$role" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SQL
psql_admin --set role="$role" --set db="$database" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'db', :'role', 'UTF8')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
SELECT format('GRANT ALL ON DATABASE %I TO %I', :'db', :'role') \gexec
SQL
PGADMIN_DB=$database psql_admin --set role="$role" <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('ALTER SCHEMA public OWNER TO %I', :'role') \gexec
SQL
echo "postgres-setup: role $role and database $database are ready"
echo "  REMPART_DB=postgresql://$role@/$database?host=/run/postgresql"
