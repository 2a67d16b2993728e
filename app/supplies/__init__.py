"""The consumables department: kits per order (US-150, US-160) and fortune cookies (US-170)."""
