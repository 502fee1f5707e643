#!/usr/bin/env bash
# Restore a backup made by deploy/backup.sh: the database and PORTAL_STORAGE.
#
#   DATABASE_URL=postgresql://portal@db/portal PORTAL_STORAGE=/var/lib/drp-portal/storage \
#   deploy/restore.sh /var/backups/drp-portal/20261123T023000Z --yes
#
# Stop the web processes and the workers first (systemctl stop drp-portal-web drp-portal-worker 'drp-portal-worker-*').
# The checksums are verified before anything is touched. The database's objects are dropped and re-created from the
# dump in one transaction (all or nothing); the current storage directory is kept beside the restored one as
# <PORTAL_STORAGE>.before-restore-<timestamp> until you delete it. Afterwards run `flask --app portal db upgrade`
# (a backup made by older code is brought to the current schema) and start the processes again.
set -euo pipefail

backup=${1:?usage: restore.sh BACKUP_DIRECTORY --yes}
[ "${2:-}" = "--yes" ] || { echo "restore.sh: this replaces the database and the files; add --yes to go on" >&2; exit 2; }
: "${DATABASE_URL:?DATABASE_URL must name the PostgreSQL database to restore into}"
: "${PORTAL_STORAGE:?PORTAL_STORAGE must name the storage directory to restore into}"

PG_URL=${DATABASE_URL/postgresql+psycopg:\/\//postgresql://}
PG_URL=${PG_URL/postgres:\/\//postgresql://}

[ -f "$backup/portal.dump" ] && [ -f "$backup/storage.tar.gz" ] || { echo "restore.sh: $backup is not a backup" >&2; exit 2; }
(cd "$backup" && sha256sum --check --quiet SHA256SUMS)

# the database: drop what the dump holds, re-create it, in one transaction
pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction --exit-on-error \
  --dbname="$PG_URL" "$backup/portal.dump"

# the files: unpack beside, then swap, so a failed unpack leaves the current directory as it was
stamp=$(date -u +%Y%m%dT%H%M%SZ)
parent=$(dirname "$PORTAL_STORAGE")
mkdir -p "$parent"
incoming=$(mktemp -d "$parent/.restore-XXXXXX")
tar -C "$incoming" -xzf "$backup/storage.tar.gz"
if [ -e "$PORTAL_STORAGE" ]; then
  mv "$PORTAL_STORAGE" "$PORTAL_STORAGE.before-restore-$stamp"
fi
mv "$incoming" "$PORTAL_STORAGE"
chmod 750 "$PORTAL_STORAGE"

echo "restored $backup into the database and $PORTAL_STORAGE"
