"""Demo accounts for `make run` (all with the password `demo-password`)."""

from __future__ import annotations

from app.accounts import services as accounts

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
CLIENTS = [
    ("client@example.com", "Tom the Tester", "1 Yarn Street, Purrington", "card"),
    ("client2@example.com", "Luna Laser-Pointer", "22 Catnip Avenue, Purrington", "bank_transfer"),
    ("client3@example.com", "Oscar Box", "3 Cardboard Lane, Meowville", "card"),
]


def load_demo() -> bool:
    """Create the demo accounts unless they exist; True if anything was created."""
    if accounts.find_user_by_email(STAFF[0][0]) is not None:
        return False
    for email, name, roles in STAFF:
        accounts.create_staff(email, name, roles, password=DEMO_PASSWORD)
    for email, name, age, breed, coat, strengths, weaknesses in WORKERS:
        user = accounts.create_worker(email, name, age, breed, coat, strengths, weaknesses, invite=False)
        accounts.set_password(user, DEMO_PASSWORD)
    for email, name, address, payment in CLIENTS:
        user = accounts.create_client(email, name, address, payment, invite=False)
        accounts.set_password(user, DEMO_PASSWORD)
    return True
