"""Background job records: what was started, by whom, its progress and result (GET /api/v1/jobs/{id})."""
