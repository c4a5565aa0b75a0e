"""Running Rempart for years: backups and restores (backup.py), key care (keys.py).

Why a package of its own: a backup gathers what every layer keeps (the database, the
face-template, preserved-media and signing keys, the notice overrides, the preserved media)
and a restore re-applies the withdrawal ledger (store/withdrawal_ledger.py) before anything
is served, so it sits above the store and the case layer; the command line (`rempart
backup`, `restore`, `keys`) only prints what these functions return (docs/operations.md).
"""
