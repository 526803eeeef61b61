"""The price table: the prices of the issue with their source and date, tiers, and totals."""

from __future__ import annotations

from datetime import date

import pytest

from pagesage.config import Settings
from pagesage.domain.pages import CostEntry
from pagesage.pricing import (
    DOCAI_TIER_PAGES,
    PRICE_VERSION,
    PRICES,
    PROVIDERS,
    PricingError,
    price_call,
    prices_of,
)


def test_the_table_holds_the_issues_prices_per_1000_pages():
    per_1000 = {(p.service, p.from_units): p.usd for p in PRICES if p.per == 1000}
    assert per_1000 == {
        ("document-ai-ocr", 0): 1.50,
        ("document-ai-ocr", 5_000_000): 0.60,
        ("document-ai-layout-parser", 0): 10.00,
        ("document-ai-form-parser", 0): 30.00,
        ("document-ai-ocr-add-ons", 0): 6.00,
    }
    assert all(p.unit == "page" for p in PRICES if p.per == 1000)


def test_every_price_names_its_source_and_date_and_a_provider():
    assert PRICE_VERSION == "2026-11"
    for price in PRICES:
        assert price.source.startswith("https://cloud.google.com/"), price
        assert price.as_of.isoformat().startswith(PRICE_VERSION), price
        assert price.as_of <= date.today()
        assert PROVIDERS[price.service] in ("google-cloud", "local")
    assert {p.source for p in PRICES if p.service.startswith("document-ai")} == {"https://cloud.google.com/document-ai/pricing"}
    assert {p.source for p in PRICES if "tesseract" in p.service} == {"https://cloud.google.com/run/pricing"}


def test_tiers_cover_every_monthly_volume_once():
    for service in PROVIDERS:
        lines = prices_of(service)
        assert lines[0].from_units == 0 and lines[-1].to_units is None
        for lower, upper in zip(lines, lines[1:]):
            assert lower.to_units == upper.from_units


def test_document_ai_pages_at_the_first_tier():
    quote = price_call("document-ai-ocr", pages=3)
    assert (quote.units, quote.unit, quote.provider) == (3.0, "page", "google-cloud")
    assert quote.unit_cost_usd == pytest.approx(0.0015)
    assert quote.total_usd == pytest.approx(0.0045)
    assert quote.price_version == PRICE_VERSION
    assert price_call("document-ai-ocr", pages=1000).total_usd == pytest.approx(1.50)


@pytest.mark.parametrize(("before", "pages", "usd"), [
    (DOCAI_TIER_PAGES - 1000, 1000, 1.50),          # the last 1,000 pages of the first tier
    (DOCAI_TIER_PAGES, 1000, 0.60),                 # the first 1,000 above it
    (DOCAI_TIER_PAGES - 500, 1000, 0.75 + 0.30),    # straddling: 500 pages at each price
    (12_000_000, 2000, 1.20),
])
def test_document_ai_pages_beyond_5_million_a_month_cost_less(before, pages, usd):
    quote = price_call("document-ai-ocr", pages=pages, monthly_pages_before=before)
    assert quote.total_usd == pytest.approx(usd)
    assert quote.units * quote.unit_cost_usd == pytest.approx(quote.total_usd)


def test_other_document_ai_processors_and_add_ons():
    assert price_call("document-ai-layout-parser", pages=2).total_usd == pytest.approx(0.02)
    assert price_call("document-ai-form-parser", pages=2).total_usd == pytest.approx(0.06)
    assert price_call("document-ai-ocr-add-ons", pages=2).total_usd == pytest.approx(0.012)


def test_tesseract_is_compute_seconds_times_the_configured_rate():
    local = price_call("tesseract-local", seconds=2.34567, usd_per_vcpu_second=0.00002)
    assert (local.units, local.unit, local.provider) == (2.346, "vcpu_second", "local")
    assert local.unit_cost_usd == 0.00002 and local.total_usd == round(2.346 * 0.00002, 9)
    remote = price_call("cloud-run-tesseract", seconds=10.0, pages=7)
    assert remote.provider == "google-cloud"
    assert remote.unit_cost_usd == Settings().tesseract_usd_per_vcpu_second == 0.000024  # table default = setting default
    assert remote.units == 10.0 and remote.total_usd == pytest.approx(0.00024)


def test_a_zero_quantity_costs_nothing():
    assert price_call("document-ai-ocr", pages=0).total_usd == 0
    assert price_call("tesseract-local", seconds=0.0).total_usd == 0


def test_every_quote_makes_a_valid_cost_entry():
    quotes = [price_call("document-ai-ocr", pages=p, monthly_pages_before=b) for p, b in ((1, 0), (7, 4_999_995), (3, 6_000_000))]
    quotes += [price_call("tesseract-local", seconds=s) for s in (0.0004, 1.23456, 987.6543)]
    for n, q in enumerate(quotes):
        entry = CostEntry(cost_id=f"j:p{n}:ocr-extraction", job_id="j", engine="x", operation="ocr-extraction",
                          provider=q.provider, service=q.service, units=q.units, unit=q.unit,
                          unit_cost_usd=q.unit_cost_usd, total_usd=q.total_usd, price_version=q.price_version,
                          response_ms=0)
        assert entry.total_usd == q.total_usd


def test_unknown_services_and_negative_quantities_are_refused():
    with pytest.raises(PricingError, match="no price"):
        price_call("document-ai-summarizer", pages=1)
    with pytest.raises(PricingError):
        price_call("document-ai-ocr", pages=-1)
    with pytest.raises(PricingError):
        price_call("tesseract-local", seconds=-0.5)
    with pytest.raises(PricingError):
        price_call("tesseract-local", seconds=1.0, usd_per_vcpu_second=-1.0)
