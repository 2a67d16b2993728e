"""The hiring demo: two open vacancies, a test bank of three tests with six questions each, a few
hundred past attempts (written set-based, so percentiles mean something from the start), and
about 30 applications over every stage, one of them ready to hire.

The applications go through the real services, so their events, stages and scores are what the
running system would produce; their mail is marked handled by load.py like the rest of the demo's
history (nobody is mailed about it).
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw
from sqlalchemy import func, select, text
from werkzeug.datastructures import FileStorage

from app.accounts.models import User
from app.extensions import db
from app.hiring import services
from app.hiring.models import Application, HiringTest, Vacancy
from app.platform.uploads import save_photo

# (name, trait, minutes, pass mark, [(kind, text, choices, correct, points)])
TESTS = [
    (
        "Tidy paws",
        "cleaning",
        8,
        70,
        [
            ("single", "Which goes first when cleaning a room?", "Floors\nDusting high shelves\nWindows", "2", 1),
            (
                "multiple",
                "Which are safe on a wooden floor?",
                "Damp microfibre\nBleach\nSoaking wet mop\nDry mop",
                "1, 4",
                2,
            ),
            ("number", "How many minutes should a disinfectant sit before wiping? (label says 5)", "", "5", 1),
            ("single", "Fur on the sofa is best removed with...", "A lint roller\nA hair dryer\nWater", "1", 1),
            (
                "multiple",
                "What belongs in the bathroom kit?",
                "Limescale remover\nCatnip\nGloves\nSponges",
                "1, 3, 4",
                2,
            ),
            ("number", "A 2-hour job started at 10:00. At what hour does it end?", "", "12", 1),
        ],
    ),
    (
        "Kitchen whiskers",
        "cooking",
        10,
        60,
        [
            (
                "single",
                "Which fish is safe to serve raw to a client cat?",
                "None without the client's say\nAny\nOnly tuna",
                "1",
                1,
            ),
            ("number", "Grams in half a kilo?", "", "500", 1),
            ("multiple", "Which are toxic to cats?", "Onions\nChicken\nChocolate\nRice", "1, 3", 2),
            ("single", "Leftovers go in the fridge within...", "2 hours\n6 hours\nA day", "1", 1),
            ("number", "Five dinners of 80 g each: how many grams of fish?", "", "400", 1),
            ("single", "Before cooking, you always...", "Wash your paws\nTaste the food\nOpen a window", "1", 1),
        ],
    ),
    (
        "Green thumb",
        "gardening",
        8,
        60,
        [
            ("single", "When do you water a lawn in summer?", "Early morning\nNoon\nNever", "1", 1),
            ("multiple", "Which plants harm cats?", "Lilies\nCatnip\nFoxglove\nCat grass", "1, 3", 2),
            ("number", "A bed is 3 m by 2 m. Its area in square metres?", "", "6", 1),
            ("single", "Weeds are best pulled when the soil is...", "Moist\nFrozen\nBone dry", "1", 1),
            ("number", "Seeds 10 cm apart along 1 m: how many seeds (both ends included)?", "", "11", 1),
            ("single", "Compost needs...", "Air and moisture\nPlastic\nSalt", "1", 1),
        ],
    ),
]
VACANCIES = [
    (
        "House cat (cleaning and cooking)",
        "house-cat",
        "Keep our clients' homes whisker-clean and their bowls full. Flexible hours, Monday to Saturday.\n\n"
        "You will: clean, cook meals for the week, collect your kit from the consumables department before each job.",
        ["Tidy paws", "Kitchen whiskers"],
    ),
    (
        "Garden cat",
        "garden-cat",
        "Mowing, weeding and a tidy catnip bed. Outdoors in all weathers; a love of sunny patches is a plus.",
        ["Green thumb", "Tidy paws"],
    ),
]
BREEDS = ["Maine Coon", "Siamese", "Bengal", "Persian", "Sphynx", "Ragdoll", "British Shorthair", "Abyssinian"]
COATS = ["tabby", "black", "ginger", "calico", "white", "tortoiseshell", "grey", "cream"]
NAMES = [
    "Tigger",
    "Nala",
    "Simba",
    "Cleo",
    "Milo",
    "Loki",
    "Pumpkin",
    "Salem",
    "Pepper",
    "Oreo",
    "Ziggy",
    "Olive",
    "Jasper",
    "Mochi",
    "Biscuit",
    "Willow",
    "Ginger",
    "Smokey",
    "Luna",
    "Leo",
    "Poppy",
    "Toby",
    "Daisy",
    "Felix",
    "Kiki",
    "Bella",
    "Max",
    "Misty",
    "Boots",
    "Coco",
]
# How many of the 30 applications end at each stage (one "tests_done" is the one ready to hire).
STAGES = [
    ("unconfirmed", 3),
    ("new", 6),
    ("contacted", 5),
    ("tests_assigned", 6),
    ("tests_done", 4),
    ("hired", 3),
    ("rejected", 3),
]
PAST_ATTEMPTS = 300  # per test, and as many finished sets per vacancy


def has_hiring() -> bool:
    return (db.session.scalar(select(func.count()).select_from(Vacancy)) or 0) > 0


def _photo(name: str, number: int) -> str:
    colour = [(124, 58, 237), (15, 123, 74), (200, 90, 30), (30, 90, 200)][number % 4]
    image = Image.new("RGB", (360, 360), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((80, 80, 280, 280), outline=(255, 255, 255), width=6)
    draw.text((120, 170), name, fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return save_photo(FileStorage(buffer, filename="applicant.png"), "applicants")


def _past_attempts(tests: dict[str, HiringTest], vacancies: list[tuple[Vacancy, list[str]]]) -> None:
    """A few hundred scored attempts per test and per set, set-based: a bell around 60%, a few at 100%."""
    for test in tests.values():
        points = test.max_points
        db.session.execute(
            text(
                "INSERT INTO hiring_test_scores (test_id, percent, scored_at) "
                "SELECT :test_id, round(100.0 * least(:points, greatest(0, round("
                "  (:points * (0.35 + 0.5 * (random() + random() + random()) / 3))::numeric"
                "  + CASE WHEN g % 37 = 0 THEN :points ELSE 0 END)))::numeric / :points, 6), "
                "  now() - (g || ' hours')::interval "
                "FROM generate_series(1, :count) AS g"
            ),
            {"test_id": test.id, "points": points, "count": PAST_ATTEMPTS},
        )
    for _vacancy, names in vacancies:
        key = ",".join(str(tests[name].id) for name in names)
        db.session.execute(
            text(
                "INSERT INTO hiring_set_scores (set_key, percent, scored_at) "
                "SELECT :key, round((35 + 50 * (random() + random() + random()) / 3)::numeric, 6), "
                "  now() - (g || ' hours')::interval FROM generate_series(1, :count) AS g"
            ),
            {"key": key, "count": PAST_ATTEMPTS // 2},
        )


def _answer_well(assignment, quality: float, number: int) -> None:
    """Answer the questions, right in proportion to `quality` (deterministic per applicant)."""
    questions = assignment.test.questions
    right = round(len(questions) * quality)
    for index, question in enumerate(questions):
        correct = index < right or (index + number) % 7 == 0
        if question.kind == "number":
            value = str(question.correct["value"] + (0 if correct else 3))
        else:
            value = list(question.correct) if correct else [len(question.choices) - 1 - question.correct[0]]
        services.save_answer(assignment, question.id, value)


def load_hiring(manager: User) -> None:
    tests = {}
    for name, trait, minutes, pass_mark, questions in TESTS:
        test = services.save_test(
            None,
            name=name,
            description=f"Measures {trait}.",
            trait=trait,
            time_limit_minutes=minutes,
            pass_mark_percent=pass_mark,
        )
        for kind, question_text, choices, correct, points in questions:
            services.save_question(
                test, None, kind=kind, text=question_text, choices=choices, correct=correct, points=points
            )
        tests[name] = test
    vacancies = []
    for title, slug, description, test_names in VACANCIES:
        vacancy = services.save_vacancy(None, title=title, slug=slug, description=description, is_open=True)
        services.set_vacancy_tests(vacancy, [tests[name].id for name in test_names])
        vacancies.append((vacancy, test_names))
    _past_attempts(tests, vacancies)

    number = 0
    for stage, count in STAGES:
        for index in range(count):
            vacancy = vacancies[number % 2][0]
            name = NAMES[number]
            application_id = services.submit_application(
                vacancy,
                {
                    "name": name,
                    "email": f"{name.lower()}.applicant@example.com",
                    "phone": f"+44 7700 900{number:03d}",
                    "age": 1 + number % 9,
                    "breed": BREEDS[number % len(BREEDS)],
                    "coat_colour": COATS[number % len(COATS)],
                    "about": f"{name} here: tidy, punctual, and very good at naps between jobs.",
                },
                None,
            )
            application = db.session.get(Application, application_id)
            services.process_intake(application, _photo(name, number))
            if stage != "unconfirmed":
                services.confirm(application)
            if stage not in ("unconfirmed", "new"):
                services.record_contact(
                    application,
                    manager,
                    contacted_at=None,
                    channel="call",
                    outcome="Reached, keen to start",
                    notes="Available Monday to Saturday.",
                )
            if stage in ("tests_assigned", "tests_done", "hired", "rejected"):
                services.assign_tests(application, manager)
            if stage == "tests_assigned" and number % 2:
                services.start_test(application.assignments[0])  # one test under way
            if stage in ("tests_done", "hired", "rejected"):
                # The first "tests_done" applicant is the one ready to hire: full marks.
                quality = 1.0 if stage == "hired" or (stage == "tests_done" and index == 0) else 0.5
                for assignment in list(application.assignments):
                    services.start_test(assignment)
                    _answer_well(assignment, quality, number)
                    services.submit_test(assignment)
            if stage == "hired":
                services.hire(application, manager)
            if stage == "rejected":
                services.reject(
                    application,
                    manager,
                    reason="Scores below the bar.",
                    message_to_applicant="Thank you for your time; you are welcome to apply again next year.",
                )
            number += 1
    db.session.flush()
