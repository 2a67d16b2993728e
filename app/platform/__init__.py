"""Infrastructure every domain stands on: clock, jobs and queues, unit of work, uploads, validation, schedule."""
