"""Shared mechanisms every domain uses: time, money, errors, tenancy, auth, API and UI helpers."""
