#!/bin/sh
# One encrypted Rempart backup, then its verification, then the deletion of backups older
# than REMPART_BACKUP_KEEP_DAYS (default 14). Run by rempart-backup.service (as the
# rempart user, with the passphrase handed over as a systemd credential), or by hand:
#   rempart-backup.sh /var/backups/rempart /etc/rempart/backup-passphrase
# A backup holds hashes and face templates: it is kept no longer than it is useful.
# Withdrawals made after a backup are re-applied when it is restored (the withdrawal
# ledger), so an old backup never brings withdrawn data back. A copy of the ledger (keyed
# digests only, never restored from a backup) is kept beside the backups, so that copying
# this folder off the machine saves it too (docs/operations.md).
set -eu

dir=${1:-/var/backups/rempart}
passphrase_file=${2:-${CREDENTIALS_DIRECTORY:-/nonexistent}/backup-passphrase}
keep_days=${REMPART_BACKUP_KEEP_DAYS:-14}
rempart=${REMPART_BIN:-/opt/rempart/venv/bin/rempart}

if [ ! -r "$passphrase_file" ]; then
	echo "rempart-backup: cannot read the passphrase file $passphrase_file" >&2
	exit 2
fi
umask 077
out="$dir/rempart-$(date -u +%Y%m%dT%H%M%SZ).backup"
"$rempart" backup --passphrase-file "$passphrase_file" --out "$out"
"$rempart" backup verify --passphrase-file "$passphrase_file" "$out"
ledger=${REMPART_LEDGER:-${REMPART_HOME:-}/withdrawals.ledger}
if [ -f "$ledger" ]; then
	cp "$ledger" "$dir/withdrawals.ledger.tmp" && mv "$dir/withdrawals.ledger.tmp" "$dir/withdrawals.ledger"
fi
find "$dir" -maxdepth 1 -type f -name 'rempart-*.backup' -mtime "+$keep_days" -delete
echo "rempart-backup: wrote and verified $out"
