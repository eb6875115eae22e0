# Sourced by .ci/run: a throwaway PostgreSQL on 127.0.0.1:55432 for the audit
# tests (tests/test_audit.py runs on it when IDDS_TEST_POSTGRES_URL is set).
# Its own data directory and port, so it never clashes with a system cluster.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDATA=$(mktemp -d /tmp/idds-pg.XXXXXX) && chown postgres: "$PGDATA"
su postgres -c "$PGBIN/initdb -D $PGDATA -A trust -U postgres >/dev/null"
su postgres -c "$PGBIN/pg_ctl -D $PGDATA -o '-c listen_addresses=127.0.0.1 -p 55432 -k $PGDATA' -l $PGDATA/server.log -w start >/dev/null"
trap "su postgres -c '$PGBIN/pg_ctl -D $PGDATA -m fast stop' >/dev/null; rm -rf $PGDATA" EXIT
su postgres -c "$PGBIN/psql -h 127.0.0.1 -p 55432 -U postgres -qc \"CREATE ROLE idds LOGIN PASSWORD 'idds'\""
su postgres -c "$PGBIN/createdb -h 127.0.0.1 -p 55432 -U postgres -O idds idds_test"
export IDDS_TEST_POSTGRES_URL=postgresql://idds:idds@127.0.0.1:55432/idds_test
