"""The demo's cast and scripts: accounts (password `demo-password`), service types, the stories of
the past week and the upcoming orders, the billing history's shape."""

from __future__ import annotations

from dataclasses import dataclass

from app.orders.models import OrderStatus

S = OrderStatus
DEMO_PASSWORD = "demo-password"

STAFF = [
    ("manager@example.com", "Morgan the Manager", ["manager", "bettor"]),
    ("supply@example.com", "Sam of Supplies", ["supply"]),
]
WORKERS = [
    ("worker@example.com", "Whiskers", 4, "Maine Coon", "tabby", ["cleaning", "cooking"], ["baths"]),
    ("worker2@example.com", "Mittens", 3, "Siamese", "seal point", ["gardening", "shopping"], ["stairs"]),
    ("worker3@example.com", "Shadow", 6, "British Shorthair", "blue", ["repairs", "cleaning"], ["mornings"]),
]
# (email, name, address, payment method, phone); the numbers are in Ofcom's range kept for drama.
CLIENTS = [
    ("client@example.com", "Tom the Tester", "1 Yarn Street, Purrington", "card", "+44 20 7946 0018"),
    ("client2@example.com", "Luna Laser-Pointer", "22 Catnip Avenue, Purrington", "bank_transfer", "020 7946 0925"),
    ("client3@example.com", "Oscar Box", "3 Cardboard Lane, Meowville", "card", "+44 (0)113 496 0734"),
]

# (name, description, duration minutes, skills, consumables); every base price is 100 units (US-050).
SERVICE_TYPES = [
    (
        "House cleaning",
        "Dusting, vacuuming and floors, kitchen and bathroom: the whole house, whisker-clean.",
        120,
        ["cleaning"],
        ["Job acceptance form", "Microfibre cloths", "Floor cleaner", "Lint roller", "Bin bags"],
    ),
    (
        "Cooking",
        "Meals for the week, cooked at the client's home and portioned into the fridge.",
        90,
        ["cooking"],
        ["Job acceptance form", "Apron", "Food containers", "Spice kit"],
    ),
    (
        "Gardening",
        "Mowing, weeding, planting and a tidy catnip bed.",
        180,
        ["gardening"],
        ["Job acceptance form", "Gardening gloves", "Catnip seeds", "Compost bag"],
    ),
    (
        "Shopping",
        "The weekly shop, put away where the client likes it.",
        60,
        ["shopping"],
        ["Job acceptance form", "Reusable bags", "Cool bag"],
    ),
    (
        "Small repairs",
        "Wobbly shelves, scratched posts, squeaky doors and other small jobs.",
        120,
        ["repairs"],
        ["Job acceptance form", "Screwdriver set", "Wood glue", "Spare screws", "Sisal rope"],
    ),
]

DESCRIPTIONS = {
    "House cleaning": "Fur everywhere after the moulting season, please do the sofa too.",
    "Cooking": "Five fish dinners for the week, no onions.",
    "Gardening": "The lawn needs mowing and the catnip bed weeding.",
    "Shopping": "Weekly shop: tuna, milk (lactose-free), treats. List on the fridge.",
    "Small repairs": "The scratching post wobbles and a shelf came off the wall.",
}


@dataclass(frozen=True)
class Past:
    """A finished (or started) order of the past week, told as its story."""

    days_ago: int
    slot: int  # index into the day's slot times
    client: int
    worker: int
    service: str
    outcome: str  # completed | cancelled_by_client | cancelled_by_manager | no_show | in_progress


PAST = [
    Past(6, 0, 0, 0, "House cleaning", "completed"),
    Past(6, 1, 1, 1, "Gardening", "completed"),
    Past(5, 0, 2, 2, "Small repairs", "completed"),
    Past(5, 1, 0, 0, "Cooking", "cancelled_by_client"),
    Past(4, 0, 1, 1, "Shopping", "completed"),
    Past(4, 1, 2, 2, "House cleaning", "cancelled_by_manager"),
    Past(3, 0, 1, 0, "Cooking", "completed"),
    Past(2, 0, 0, 1, "Gardening", "no_show"),
    Past(2, 1, 2, 2, "Small repairs", "completed"),
    Past(1, 0, 2, 1, "Shopping", "completed"),
    Past(1, 1, 0, 2, "House cleaning", "completed"),
    Past(0, 0, 1, 0, "House cleaning", "in_progress"),
]
# (working days ahead, slot index, client, service, what happens to it)
UPCOMING = [
    (1, 0, 0, "Cooking", "confirmed"),
    (1, 1, 1, "Small repairs", "matched"),
    (2, 0, 2, "Gardening", "kit_issued"),
    (2, 1, 0, "Shopping", "cookie_received"),
    (3, 0, 1, "Cooking", "kit_issued"),
    (3, 0, 2, "House cleaning", "requested"),
    (3, 1, 1, "Cooking", "requested"),
]
CANCEL_REASONS = {
    "cancelled_by_client": "Going to the vet that day, sorry!",
    "cancelled_by_manager": "The client phoned: the house is being painted this week.",
}
# Consumers that must not act on the demo's history (their effects are written here, or they would mail
# people about last week). Consumers added later still get these events.
HISTORY_HANDLED_BY = ("matching", "notifications", "supplies")

# The billing history: orders on the working days before PAST's week, back to at least
# HISTORY_WEEKS whole weeks and the whole previous month. The services each worker does (their strengths).
HISTORY_WEEKS = 5
RECENT_DAYS = 7  # PAST's stories are within this many days (a Sunday moves "6 days ago" back to 7)
SKILLED_SERVICES = [("House cleaning", "Cooking"), ("Gardening", "Shopping"), ("Small repairs", "House cleaning")]
# US-270: (cents, reason) credited by the manager: to the first worker last month, to the third this month.
CREDITS = [
    (25_00, "Stayed two extra hours to finish a spring clean without asking for more."),
    (15_00, "Brought her own sisal rope when the repair kit came short."),
]
FAILING_CLIENT = 2  # the sandbox declines this client's charges, so a failed invoice and its retries show
# The sandbox answers after about this long (50% to 150% of it), so a billing run started on
# /manage/billing visibly moves its progress bar (managers change it in the sandbox's settings).
DEMO_SANDBOX_DELAY_MS = 3000
