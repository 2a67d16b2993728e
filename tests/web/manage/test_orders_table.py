"""The managers' orders table: counts per status, filters, sort, pages, htmx refresh."""

from __future__ import annotations

import html as html_lib
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.extensions import db as database
from app.orders.models import OrderStatus
from tests.support.factories import ClientFactory, SupplyFactory, WorkerFactory
from tests.support.fixtures import login
from tests.support.manage import make_order, next_slot
from tests.support.web import config_values, count_statements

URL = "/manage/orders"


def ids(response) -> list[int]:
    return [int(value) for value in re.findall(r'<tr data-order="(\d+)">', response.get_data(as_text=True))]


@pytest.fixture
def mix(db, people, service_type):
    """One order in each status, spread over slots and people."""
    tom, luna, whiskers, mittens = people["tom"], people["luna"], people["whiskers"], people["mittens"]
    base = next_slot()
    rows = {}
    for offset, (status, client, worker, price) in enumerate(
        [
            (OrderStatus.REQUESTED, tom, None, None),
            (OrderStatus.MATCHED, luna, whiskers, 100_00),
            (OrderStatus.KIT_ISSUED, tom, mittens, 95_00),
            (OrderStatus.IN_PROGRESS, luna, whiskers, 90_00),
            (OrderStatus.COMPLETED, tom, whiskers, 88_00),
            (OrderStatus.CANCELLED, luna, mittens, 100_00),
            (OrderStatus.FAILED, tom, mittens, 99_00),
        ]
    ):
        rows[status.value] = make_order(
            client, service_type, worker=worker, status=status, price=price, slot_start=base + timedelta(days=offset)
        )
    return rows


def test_counts_per_status_are_filter_links(manager_client, mix):
    html = manager_client.get(URL).get_data(as_text=True)
    assert "All (7)" in html
    for label in ("Requested", "Matched", "Kit issued", "In progress", "Completed", "Cancelled", "Failed"):
        assert f"{label} (1)" in html
    assert 'href="/manage/orders?status=kit_issued"' in html
    assert all(f'<a href="/manage/orders/{order.id}">#{order.id}</a>' in html for order in mix.values())
    assert len(ids(manager_client.get(URL))) == 7


def test_status_filter(manager_client, mix):
    response = manager_client.get(URL, query_string={"status": "failed"})
    assert ids(response) == [mix["failed"].id]
    # An unknown status shows everything rather than an error.
    assert len(ids(manager_client.get(URL, query_string={"status": "bogus"}))) == 7


def test_date_range_uses_the_company_time_zone(app, manager_client, db, people, service_type):
    zone = "Pacific/Auckland"
    with config_values(app, COMPANY_TIMEZONE=zone):
        local = ZoneInfo(zone)
        # 23:30 on the 10th in Auckland is still the 10th locally, though the 10th at 10:30 UTC.
        late = make_order(people["tom"], service_type, slot_start=datetime(2030, 3, 10, 23, 30, tzinfo=local))
        early = make_order(people["tom"], service_type, slot_start=datetime(2030, 3, 11, 0, 30, tzinfo=local))
        make_order(people["tom"], service_type, slot_start=datetime(2030, 3, 12, 9, 0, tzinfo=local))
        assert ids(manager_client.get(URL, query_string={"from": "2030-03-10", "to": "2030-03-10"})) == [late.id]
        assert ids(manager_client.get(URL, query_string={"from": "2030-03-11", "to": "2030-03-11"})) == [early.id]
        assert len(ids(manager_client.get(URL, query_string={"from": "2030-03-10", "to": "2030-03-12"}))) == 3
        bad = manager_client.get(URL, query_string={"from": "10/03/2030"})
        assert bad.status_code == 200 and "Use a date like" in bad.get_data(as_text=True)


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Auckland", "Asia/Kolkata"])
def test_counts_under_a_date_range_are_exact_in_any_time_zone(app, manager_client, db, people, service_type, zone):
    """The hourly counts serve whole-hour zones; a half-hour zone (Kolkata) counts the orders."""
    with config_values(app, COMPANY_TIMEZONE=zone):
        local = ZoneInfo(zone)
        for day, hour, minute, status in [
            (10, 0, 10, OrderStatus.COMPLETED),  # the first minutes of the 10th, locally
            (10, 23, 50, OrderStatus.FAILED),  # the last ones
            (10, 12, 0, OrderStatus.COMPLETED),
            (9, 23, 40, OrderStatus.COMPLETED),  # the day before and after: not counted
            (11, 0, 20, OrderStatus.CANCELLED),
        ]:
            make_order(
                people["tom"],
                service_type,
                status=status,
                slot_start=datetime(2030, 3, day, hour, minute, tzinfo=local),
            )
        html = manager_client.get(URL, query_string={"from": "2030-03-10", "to": "2030-03-10"}).get_data(as_text=True)
        assert "All (3)" in html and "Completed (2)" in html and "Failed (1)" in html and "Cancelled (0)" in html
        html = manager_client.get(URL, query_string={"from": "2030-03-10"}).get_data(as_text=True)
        assert "All (4)" in html and "Cancelled (1)" in html
        html = manager_client.get(URL, query_string={"to": "2030-03-10"}).get_data(as_text=True)
        assert "All (4)" in html and "Completed (3)" in html


def test_worker_and_client_filters(manager_client, mix, people):
    whiskers = {mix[s].id for s in ("matched", "in_progress", "completed")}
    assert set(ids(manager_client.get(URL, query_string={"worker": "whisk"}))) == whiskers
    assert set(ids(manager_client.get(URL, query_string={"worker": str(people["whiskers"].id)}))) == whiskers
    assert set(ids(manager_client.get(URL, query_string={"client": "luna@"}))) == {
        mix[s].id for s in ("matched", "in_progress", "cancelled")
    }
    both = manager_client.get(URL, query_string={"client": "Tom", "worker": "Mittens", "status": "failed"})
    assert ids(both) == [mix["failed"].id]
    assert ids(manager_client.get(URL, query_string={"client": "100%_"})) == []  # wildcards are literal
    # The term is written into the statement (app.orders.table._people): quotes stay text.
    for term in ("o'brien", "x'); DROP TABLE orders; --", "back\\slash/"):
        response = manager_client.get(URL, query_string={"worker": term})
        assert response.status_code == 200 and ids(response) == []
    assert len(ids(manager_client.get(URL))) == 7
    irish = make_order(people["tom"], mix["failed"].service_type, worker=WorkerFactory(name="Sam O'Brien 50%"))
    assert ids(manager_client.get(URL, query_string={"worker": "o'brien 50%"})) == [irish.id]


@pytest.mark.parametrize(
    ("sort", "direction", "expected"),
    [
        ("slot", "asc", ["requested", "matched", "kit_issued", "in_progress", "completed", "cancelled", "failed"]),
        ("slot", "desc", ["failed", "cancelled", "completed", "in_progress", "kit_issued", "matched", "requested"]),
        ("status", "asc", ["cancelled", "completed", "failed", "in_progress", "kit_issued", "matched", "requested"]),
        ("price", "asc", ["completed", "in_progress", "kit_issued", "failed", "matched", "cancelled", "requested"]),
    ],
)
def test_sorting_by_whitelisted_columns(manager_client, mix, sort, direction, expected):
    response = manager_client.get(URL, query_string={"sort": sort, "dir": direction})
    got = ids(response)
    if sort == "price":  # equal prices tie-break on id; unpriced orders last
        assert got[:3] == [mix[s].id for s in expected[:3]] and got[-1] == mix["requested"].id
    else:
        assert got == [mix[s].id for s in expected]


def test_unknown_sort_falls_back_to_newest_first(manager_client, mix):
    response = manager_client.get(URL, query_string={"sort": "client_id; drop table orders", "dir": "sideways"})
    assert response.status_code == 200 and ids(response)[0] == mix["failed"].id


def test_sorting_by_created(manager_client, db, people, service_type):
    first = make_order(people["tom"], service_type, created_at=datetime(2030, 1, 1, tzinfo=ZoneInfo("UTC")))
    second = make_order(people["tom"], service_type, created_at=datetime(2030, 1, 2, tzinfo=ZoneInfo("UTC")))
    assert ids(manager_client.get(URL, query_string={"sort": "created", "dir": "asc"})) == [first.id, second.id]
    assert ids(manager_client.get(URL, query_string={"sort": "created"})) == [second.id, first.id]


def test_pagination_keeps_the_filters(manager_client, db, people, service_type):
    base = next_slot()
    for n in range(30):
        make_order(people["tom"], service_type, slot_start=base + timedelta(days=n))
    make_order(people["luna"], service_type, slot_start=base)
    first = manager_client.get(URL, query_string={"client": "Tom"})
    html = first.get_data(as_text=True)
    assert len(ids(first)) == 25 and "30 orders match the filters" in html
    assert 'href="/manage/orders?client=Tom&amp;page=2&amp;after=' in html
    second = manager_client.get(pager_link(first, "next"))
    assert len(ids(second)) == 5 and not set(ids(first)) & set(ids(second))
    assert "Next" not in second.get_data(as_text=True)
    # A page number without a cursor (an old link) still shows that page.
    assert ids(manager_client.get(URL, query_string={"client": "Tom", "page": 2})) == ids(second)
    assert ids(manager_client.get(pager_link(second, "prev"))) == ids(first)


def pager_link(response, rel: str) -> str | None:
    found = re.search(rf'<a href="([^"]+)"[^>]*rel="{rel}"', response.get_data(as_text=True))
    return html_lib.unescape(found.group(1)) if found else None


def _expected(rows, sort: str, direction: str) -> list[int]:
    """The table's order, computed here: the column (prices missing last either way), then the id."""
    key = {"slot": "slot_start", "created": "created_at", "status": "status", "price": "price_cents"}[sort]
    present = [order for order in rows if getattr(order, key) is not None]
    missing = [order for order in rows if getattr(order, key) is None]
    desc = direction == "desc"
    present.sort(key=lambda order: (getattr(order, key), order.id), reverse=desc)
    missing.sort(key=lambda order: order.id, reverse=desc)
    return [order.id for order in present + missing]


@pytest.mark.parametrize("sort", ["created", "slot", "status", "price"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_keyset_pages_follow_every_sort_through_ties_and_missing_prices(
    manager_client, db, people, service_type, sort, direction
):
    """Next links walk every order once in the sort's order, Previous links walk back the same pages."""
    base = next_slot()
    created = datetime(2030, 1, 1, tzinfo=ZoneInfo("UTC"))
    statuses = list(OrderStatus)
    rows = [
        make_order(
            people["tom"],
            service_type,
            status=statuses[n % len(statuses)],
            price=None if n % 4 == 0 else 90_00 + (n % 3) * 100,  # many equal prices, some missing
            slot_start=base + timedelta(hours=n % 5),  # many equal slots
            created_at=created + timedelta(minutes=n % 7),  # many equal creation times
        )
        for n in range(62)
    ]
    expected = _expected(rows, sort, direction)
    pages, url = [], f"{URL}?sort={sort}&dir={direction}"
    while url:
        response = manager_client.get(url)
        assert response.status_code == 200
        pages.append((url, ids(response)))
        url = pager_link(response, "next")
    assert [len(page) for _url, page in pages] == [25, 25, 12]
    assert [order_id for _url, page in pages for order_id in page] == expected
    # Back from the last page: each Previous link gives the page that was there.
    response = manager_client.get(pages[-1][0])
    for _url, page in reversed(pages[:-1]):
        response = manager_client.get(pager_link(response, "prev"))
        assert ids(response) == page
    assert pager_link(response, "prev") is None


def test_a_malformed_cursor_falls_back_to_the_page_number(manager_client, mix):
    for cursor in ("nonsense", "2030-13-01_5", "abc_def", "_", "x" * 200):
        response = manager_client.get(URL, query_string={"page": 1, "after": cursor, "sort": "slot"})
        assert response.status_code == 200 and len(ids(response)) == 7
    response = manager_client.get(URL, query_string={"page": 2, "after": "bogus_1", "sort": "price"})
    assert response.status_code == 200 and ids(response) == []


def test_htmx_gets_the_fragment_that_polls_its_own_url(manager_client, mix):
    headers = {"HX-Request": "true"}
    response = manager_client.get(URL, query_string={"status": "matched", "sort": "price"}, headers=headers)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert "<html" not in html and html.lstrip().startswith('<section id="orders-results"')
    assert 'hx-get="/manage/orders?status=matched&amp;sort=price"' in html and 'hx-trigger="every 12s"' in html
    assert ids(response) == [mix["matched"].id]
    # The form's hidden state follows out of band, so the next filter change keeps status and sort.
    assert 'id="filter-status" value="matched" hx-swap-oob="true"' in html
    assert 'id="filter-sort" value="price" hx-swap-oob="true"' in html
    full = manager_client.get(URL, headers={**headers, "HX-History-Restore-Request": "true"})
    assert "<html" in full.get_data(as_text=True)
    page = manager_client.get(URL).get_data(as_text=True)
    assert 'hx-push-url="true"' in page and 'id="orders-filter"' in page


def test_no_n_plus_one_on_the_table(app, manager_client, db, service_type):
    """The statement count is the same for 3 and 30 orders (client, worker, service type joined)."""

    def statements(count: int) -> int:
        for _ in range(count):
            make_order(ClientFactory(), service_type, worker=WorkerFactory(), status=OrderStatus.MATCHED, price=1)
        database.session.commit()
        manager_client.get(URL)  # warm-up (login user loading, template compilation)
        with count_statements(database.engine) as counter:
            response = manager_client.get(URL)
        assert response.status_code == 200
        return counter[0]

    small = statements(3)
    large = statements(27)
    assert small == large, (small, large)
    # The user and their roles, the counts, the page with its people joined, the service types
    # (the filter form), and the test's savepoint and its rollback.
    assert large <= 7, large
    with count_statements(database.engine) as counter:
        assert manager_client.get(URL, headers={"HX-Request": "true"}).status_code == 200
    assert counter[0] <= 6, counter[0]  # the fragment has no form


@pytest.mark.parametrize("factory", [ClientFactory, WorkerFactory, SupplyFactory])
def test_only_managers_see_the_table(client, db, factory):
    login(client, factory())
    assert client.get(URL).status_code == 403
