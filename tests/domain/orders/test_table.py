"""The managers' table queries (app.orders.table): both plans of a page give the same rows, and a
filter that matches nothing costs no page query."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from werkzeug.datastructures import MultiDict

from app.extensions import db as database
from app.orders.models import OrderStatus
from app.orders.table import OrderFilters, cursor_of, orders_page
from tests.support.factories import ClientFactory, WorkerFactory
from tests.support.manage import make_order, next_slot
from tests.support.orders import make_service
from tests.support.web import count_statements


@pytest.fixture
def orders(db):
    service, client, worker = make_service(), ClientFactory(), WorkerFactory()
    base, created = next_slot(), datetime(2030, 1, 1, tzinfo=ZoneInfo("UTC"))
    statuses = list(OrderStatus)
    return [
        make_order(
            client,
            service,
            worker=worker,
            status=statuses[n % len(statuses)],
            price=None if n % 5 == 0 else 80_00 + (n % 4) * 100,
            slot_start=base + timedelta(hours=n % 6),
            created_at=created + timedelta(minutes=n % 9),
        )
        for n in range(70)
    ]


@pytest.mark.parametrize("sort", ["created", "slot", "status", "price"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_walking_the_sort_index_and_sorting_the_filtered_rows_give_the_same_pages(orders, sort, direction):
    filters = OrderFilters.from_args(MultiDict({"sort": sort, "dir": direction}))
    walked, sorted_ = [], []
    for matching, pages in ((None, walked), (len(orders), sorted_)):
        page_filters = filters
        while True:
            rows, has_next = orders_page(page_filters, per_page=20, matching=matching)
            pages.append([order.id for order in rows])
            if not has_next:
                break
            page_filters = OrderFilters.from_args(
                MultiDict(page_filters.args(page=page_filters.page + 1, after=cursor_of(rows[-1], sort))),
                page=page_filters.page + 1,
            )
    assert walked == sorted_ and [len(page) for page in walked] == [20, 20, 20, 10]


def test_no_matching_orders_means_no_page_query(orders):
    filters = OrderFilters.from_args(MultiDict({"status": "matched"}))
    with count_statements(database.engine) as counter:
        assert orders_page(filters, matching=0) == ([], False)
    assert counter[0] == 0
    assert len(orders_page(filters, matching=10)[0]) == 10
