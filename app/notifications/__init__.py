"""The email sender (US-300): an outbox in Postgres, sent in order per recipient by RQ workers."""
