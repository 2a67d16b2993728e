"""The framework glue every audience shares: access rules, errors, security headers, templating, paging, htmx, forms."""
