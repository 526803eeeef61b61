"""The versioned price table: what one engine call costs, in USD.

Every price carries its unit, the page it was taken from and the date it was taken
(`Price.as_of`). A change of any price is a new `PRICE_VERSION`; each cost entry records the
version it was priced with, so old entries keep the price they were logged at.

Services (`CostEntry.service`) and how they are billed:

| service | unit | price (version 2026-11) | source |
|---|---|---|---|
| `document-ai-ocr` | page | $1.50 / 1,000 pages for the month's pages 1-5,000,000; $0.60 / 1,000 above | Document AI pricing, Enterprise Document OCR |
| `document-ai-ocr-add-ons` | page | $6 / 1,000 pages, on top of the OCR price | Document AI pricing, OCR add-ons (`OcrConfig.PremiumFeatures`) |
| `document-ai-layout-parser` | page | $10 / 1,000 pages | Document AI pricing, Layout Parser |
| `document-ai-form-parser` | page | $30 / 1,000 pages | Document AI pricing, Form Parser |
| `cloud-run-tesseract`, `tesseract-local` | vcpu_second | `PAGESAGE_TESSERACT_USD_PER_VCPU_SECOND` (default $0.000024) | Cloud Run pricing, CPU per vCPU-second |

Tesseract is priced as compute: the call's wall seconds on one vCPU (one `tesseract` process per
call, `OMP_THREAD_LIMIT=1`) times the configured rate. The same rate is applied in-process
(`tesseract-local`), where it estimates what the call would cost on Cloud Run. Memory, requests
and idle instance time are not priced.

The 5,000,000-page tier of Enterprise Document OCR counts a month's pages across everything
billed to the account, which PageSage cannot see (other projects, processors, batch jobs
outside PageSage). PageSage therefore logs every Document AI page at the first-tier price
(`price_call(..., monthly_pages_before=0)`, the default): the cost log is an upper bound, and
the volume discount above 5 M pages a month appears only on the invoice. `price_call` prices a
call at the tier its pages fall in when given the month's earlier pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pagesage.errors import PageSageError

PRICE_VERSION = "2026-11"
"""Id of this table; logged on every cost entry (`CostEntry.price_version`)."""

DOCAI_PRICING = "https://cloud.google.com/document-ai/pricing"
CLOUD_RUN_PRICING = "https://cloud.google.com/run/pricing"

DOCAI_TIER_PAGES = 5_000_000
"""Pages per month billed at the first Enterprise Document OCR tier."""


@dataclass(frozen=True)
class Price:
    """One line of the price table.

    Attributes:
        service: the billed service (`CostEntry.service`).
        unit: what is counted: `page` or `vcpu_second`.
        usd: USD per `per` units.
        per: how many units `usd` buys (1,000 for per-page prices).
        from_units, to_units: the monthly volume this line applies to, units, `from_units`
            inclusive, `to_units` exclusive (None: no upper bound).
        source: the page the price was taken from.
        as_of: the date it was taken.
    """

    service: str
    unit: str
    usd: float
    per: int
    source: str
    as_of: date
    from_units: int = 0
    to_units: int | None = None

    @property
    def unit_cost_usd(self) -> float:
        """USD per single unit."""
        return self.usd / self.per


_AS_OF = date(2026, 11, 23)

PRICES: tuple[Price, ...] = (
    Price("document-ai-ocr", "page", 1.50, 1000, DOCAI_PRICING, _AS_OF, 0, DOCAI_TIER_PAGES),
    Price("document-ai-ocr", "page", 0.60, 1000, DOCAI_PRICING, _AS_OF, DOCAI_TIER_PAGES, None),
    Price("document-ai-ocr-add-ons", "page", 6.00, 1000, DOCAI_PRICING, _AS_OF),
    Price("document-ai-layout-parser", "page", 10.00, 1000, DOCAI_PRICING, _AS_OF),
    Price("document-ai-form-parser", "page", 30.00, 1000, DOCAI_PRICING, _AS_OF),
    Price("cloud-run-tesseract", "vcpu_second", 0.000024, 1, CLOUD_RUN_PRICING, _AS_OF),
    Price("tesseract-local", "vcpu_second", 0.000024, 1, CLOUD_RUN_PRICING, _AS_OF),
)
"""The table. The Tesseract lines hold the default of `PAGESAGE_TESSERACT_USD_PER_VCPU_SECOND`
(Cloud Run CPU, Tier 1 region, request-based billing); the configured rate is what is charged."""

PROVIDERS: dict[str, str] = {
    "document-ai-ocr": "google-cloud",
    "document-ai-ocr-add-ons": "google-cloud",
    "document-ai-layout-parser": "google-cloud",
    "document-ai-form-parser": "google-cloud",
    "cloud-run-tesseract": "google-cloud",
    "tesseract-local": "local",
}
"""Service -> who bills it (`CostEntry.provider`); `local` runs on the caller's own machine."""

_COMPUTE_SERVICES = frozenset({"cloud-run-tesseract", "tesseract-local"})


class PricingError(PageSageError):
    """A call the price table cannot price (unknown service, negative quantity)."""


@dataclass(frozen=True)
class Quote:
    """The price of one call.

    Attributes:
        units: quantity billed (pages, or vCPU-seconds rounded to milliseconds).
        unit_cost_usd: USD per unit (for a call straddling a tier boundary, the blended price).
        total_usd: `units * unit_cost_usd`, rounded to 9 decimals (nano-dollars).
    """

    service: str
    provider: str
    unit: str
    units: float
    unit_cost_usd: float
    total_usd: float
    price_version: str = PRICE_VERSION


def prices_of(service: str) -> list[Price]:
    """The table's lines of `service`, by tier. Raises `PricingError` for an unknown service."""
    lines = sorted((p for p in PRICES if p.service == service), key=lambda p: p.from_units)
    if not lines:
        raise PricingError(f"no price for service {service!r} (known: {', '.join(sorted(PROVIDERS))})")
    return lines


def price_call(service: str, *, seconds: float = 0.0, pages: int = 0, monthly_pages_before: int = 0,
               usd_per_vcpu_second: float | None = None) -> Quote:
    """Price one engine call.

    Args:
        service: a service of the table.
        seconds: wall seconds of a compute-priced call (Tesseract), billed on one vCPU.
        pages: pages billed by a per-page service (Document AI bills the pages of a completed
            request, nothing for a failed one).
        monthly_pages_before: pages of the same service already billed this month, for the
            tiered Enterprise Document OCR price (see the module docstring: PageSage passes 0).
        usd_per_vcpu_second: the configured compute rate; None takes the table's default.

    Raises:
        PricingError: unknown service, or a negative quantity.
    """
    lines = prices_of(service)
    if seconds < 0 or pages < 0 or monthly_pages_before < 0:
        raise PricingError("seconds, pages and monthly_pages_before must be >= 0")
    if service in _COMPUTE_SERVICES:
        rate = lines[0].unit_cost_usd if usd_per_vcpu_second is None else usd_per_vcpu_second
        if rate < 0:
            raise PricingError("usd_per_vcpu_second must be >= 0")
        units = round(seconds, 3)
        return _quote(service, lines[0].unit, units, rate)
    total = _tiered_total(lines, pages, monthly_pages_before)
    unit_cost = total / pages if pages else lines[_tier(lines, monthly_pages_before)].unit_cost_usd
    return _quote(service, lines[0].unit, float(pages), unit_cost)


def _tiered_total(lines: list[Price], pages: int, before: int) -> float:
    """USD of `pages` pages numbered `before` .. `before + pages - 1` within the month."""
    total = 0.0
    for line in lines:
        upper = line.to_units if line.to_units is not None else before + pages
        overlap = max(0, min(before + pages, upper) - max(before, line.from_units))
        total += overlap * line.unit_cost_usd
    return total


def _tier(lines: list[Price], before: int) -> int:
    return next(i for i, p in enumerate(lines) if p.to_units is None or before < p.to_units)


def _quote(service: str, unit: str, units: float, unit_cost: float) -> Quote:
    return Quote(service=service, provider=PROVIDERS[service], unit=unit, units=units,
                 unit_cost_usd=unit_cost, total_usd=round(units * unit_cost, 9))
