"""Cross-cutting web concerns: access rules, security headers, error pages, template helpers."""
