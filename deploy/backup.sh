#!/usr/bin/env bash
# Back up the portal: the database (pg_dump, custom format) and PORTAL_STORAGE (statement PDFs, import files).
#
#   DATABASE_URL=postgresql://portal@db/portal PORTAL_STORAGE=/var/lib/drp-portal/storage \
#   BACKUP_DIR=/var/backups/drp-portal deploy/backup.sh
#
# Writes BACKUP_DIR/<UTC timestamp>/{portal.dump,storage.tar.gz,SHA256SUMS} and deletes the backups older than
# BACKUP_KEEP_DAYS (default 14). The database is dumped first, the files second: a PDF written in between is in the
# files but not in the data (harmless), and a statement whose PDF is missing is drawn again from its stored data
# when downloaded. Restore with deploy/restore.sh. Run it from a systemd timer or cron, e.g. daily at 02:30.
set -euo pipefail

: "${DATABASE_URL:?DATABASE_URL must name the PostgreSQL database}"
: "${PORTAL_STORAGE:?PORTAL_STORAGE must name the storage directory}"
BACKUP_DIR=${BACKUP_DIR:-/var/backups/drp-portal}
BACKUP_KEEP_DAYS=${BACKUP_KEEP_DAYS:-14}

# SQLAlchemy's spelling (postgresql+psycopg://) is not libpq's
PG_URL=${DATABASE_URL/postgresql+psycopg:\/\//postgresql://}
PG_URL=${PG_URL/postgres:\/\//postgresql://}
case "$PG_URL" in
  postgresql://*) ;;
  *) echo "backup.sh: DATABASE_URL is not PostgreSQL ($PG_URL); back up the SQLite file with the storage instead" >&2
     exit 2 ;;
esac

stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$BACKUP_DIR/$stamp"
partial="$target.partial"
umask 077
mkdir -p "$partial"
trap 'rm -rf "$partial"' EXIT

# -Fc: compressed, restorable table by table, in any order, with pg_restore; no owners or grants (restore.sh gives
# the objects to whoever restores them)
pg_dump --format=custom --compress=6 --no-owner --no-privileges --file="$partial/portal.dump" "$PG_URL"

if [ -d "$PORTAL_STORAGE" ]; then
  tar -C "$PORTAL_STORAGE" -czf "$partial/storage.tar.gz" .
else
  echo "backup.sh: $PORTAL_STORAGE does not exist; an empty storage archive is written" >&2
  tar -czf "$partial/storage.tar.gz" -T /dev/null
fi

(cd "$partial" && sha256sum portal.dump storage.tar.gz > SHA256SUMS)
mv "$partial" "$target"
trap - EXIT

# keep BACKUP_KEEP_DAYS days of backups (only directories this script made: a timestamp name)
find "$BACKUP_DIR" -mindepth 1 -maxdepth 1 -type d -name '20[0-9][0-9][01][0-9][0-3][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z' \
  -mtime +"$BACKUP_KEEP_DAYS" -exec rm -rf {} +

echo "$target"
