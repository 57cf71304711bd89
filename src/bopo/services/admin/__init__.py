"""Running bopo: users and sessions, the audit trail, jobs, backups, system data."""
