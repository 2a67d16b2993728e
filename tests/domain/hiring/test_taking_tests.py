"""Taking tests (US-080, US-110): one at a time, the server's timer, answers as given, scoring with
percentiles against earlier attempts and the small-sample rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from app.hiring import services
from app.hiring.models import AssignmentStatus, Stage
from app.hiring.scoring import PASS_MARK, PERCENTILE
from app.platform.clock import utcnow
from tests.support.factories import ManagerFactory
from tests.support.hiring import confirmed, earlier_scores, make_test, make_vacancy, take_all
from tests.support.web import events_of


@pytest.fixture
def setup(db):
    tests = [make_test(trait="cleaning"), make_test(trait="cooking")]
    vacancy = make_vacancy(tests)
    return vacancy, tests, ManagerFactory()


def test_us110_assigning_copies_the_vacancys_set_once(setup, db):
    vacancy, tests, manager = setup
    application = confirmed(vacancy)
    assert services.assign_tests(application, manager) is True
    assert services.assign_tests(application, manager) is False  # a double click assigns once
    assert [a.test_id for a in application.assignments] == [t.id for t in tests]
    assert application.stage == Stage.TESTS_ASSIGNED
    assert len(events_of(db, "hiring.tests_assigned", application.id)) == 1


def test_us110_one_applicants_set_changes_without_touching_the_vacancy(setup, db):
    vacancy, tests, manager = setup
    extra = make_test(trait="gardening")
    application = confirmed(vacancy)
    services.set_applicant_tests(application, [extra.id, tests[0].id], manager)
    assert [a.test_id for a in application.assignments] == [extra.id, tests[0].id]
    assert [link.test_id for link in vacancy.tests] == [t.id for t in tests]
    services.assign_tests(application, manager)
    assert [a.test_id for a in application.assignments] == [extra.id, tests[0].id]


def test_tests_are_taken_one_at_a_time(setup, db):
    vacancy, _tests, manager = setup
    application = confirmed(vacancy)
    services.assign_tests(application, manager)
    first, second = application.assignments
    with pytest.raises(services.DecisionError):
        services.start_test(second)
    services.start_test(first)
    assert first.deadline_at == first.started_at + timedelta(seconds=first.test.time_limit_seconds)


def test_the_timer_is_the_servers_an_answer_after_the_limit_does_not_count(setup, db):
    vacancy, _tests, manager = setup
    application = confirmed(vacancy)
    services.assign_tests(application, manager)
    assignment = application.assignments[0]
    start = utcnow()
    services.start_test(assignment, now=start)
    single = assignment.test.questions[0]
    services.save_answer(assignment, single.id, [0], now=start + timedelta(minutes=1))  # right, in time
    late = start + timedelta(minutes=10, seconds=1)
    with pytest.raises(services.TimeUp):
        services.save_answer(assignment, assignment.test.questions[1].id, [0, 2], now=late)
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert (assignment.points, assignment.max_points) == (1, 4)  # only the answer in time counted
    assert assignment.submitted_at == assignment.deadline_at


def test_answers_are_saved_as_given_and_a_reload_resumes(setup, db):
    vacancy, _tests, manager = setup
    application = confirmed(vacancy)
    services.assign_tests(application, manager)
    assignment = application.assignments[0]
    services.start_test(assignment)
    number = assignment.test.questions[2]
    services.save_answer(assignment, number.id, "7")
    services.save_answer(assignment, number.id, "8,0")  # changed: the last one is kept, as typed
    db.session.expire_all()
    assert {a.question_id: a.value for a in assignment.answers} == {number.id: "8,0"}
    services.submit_test(assignment)
    assert assignment.points == 1


def test_overdue_tests_are_scored_by_the_job_query(setup, db):
    vacancy, _tests, manager = setup
    application = confirmed(vacancy)
    services.assign_tests(application, manager)
    assignment = application.assignments[0]
    services.start_test(assignment)
    with time_machine.travel(utcnow() + timedelta(minutes=11), tick=False):
        assert services.overdue_assignments() == [assignment.id]
        assert services.submit_test(assignment) is True
        assert services.submit_test(assignment) is False
    assert assignment.points == 0


def test_us080_small_sample_uses_the_pass_mark_and_says_so(setup, db):
    vacancy, _tests, manager = setup
    application = confirmed(vacancy)
    take_all(application, manager)
    assert application.stage == Stage.TESTS_DONE
    assert all(a.rule == PASS_MARK and a.passed for a in application.assignments)
    assert application.set_rule == PASS_MARK and application.passed is True
    assert len(events_of(db, "hiring.tests_done", application.id)) == 1


def test_us080_with_enough_attempts_the_top_3_percent_pass_ties_counted_half(setup, db):
    vacancy, tests, manager = setup
    # 100 earlier attempts at each test: 96 below full marks, 4 at full marks.
    for test in tests:
        earlier_scores(test, [50.0] * 96 + [100.0] * 4)
    application = confirmed(vacancy)
    take_all(application, manager)
    first = application.assignments[0]
    assert first.rule == PERCENTILE
    assert first.percentile == pytest.approx(98.0)  # (96 + 4 / 2) / 100
    assert first.passed is True
    # A second perfect applicant now ties with 5 of 101: (96 + 2.5) / 101 = 97.52... still top 3%.
    other = confirmed(vacancy)
    take_all(other, manager)
    assert other.assignments[0].percentile == pytest.approx(100 * 98.5 / 101)
    assert other.assignments[0].passed is True


def test_us080_below_the_top_3_percent_fails(setup, db):
    vacancy, tests, manager = setup
    for test in tests:
        earlier_scores(test, [100.0] * 100)
    application = confirmed(vacancy)
    take_all(application, manager)
    assert all(a.rule == PERCENTILE and not a.passed for a in application.assignments)
    assert application.passed is False


def test_the_correct_answers_are_checked_per_kind(setup, db):
    vacancy, _tests, manager = setup
    application = confirmed(vacancy)
    services.assign_tests(application, manager)
    assignment = application.assignments[0]
    services.start_test(assignment)
    single, multiple, number = assignment.test.questions
    services.save_answer(assignment, single.id, [0])
    services.save_answer(assignment, multiple.id, [0])  # only one of the two right choices: no points
    services.save_answer(assignment, number.id, "8")
    services.submit_test(assignment)
    assert assignment.points == 2
