"""Price lists as data, and the cost of a job in exact decimals.

The built-in list is WaveSpeed's current one (seed ``000_*``); a user's list
is a YAML file of the same shape, named by ``--prices`` or the storyboard's
``prices:``. Money is ``Decimal`` throughout and rounded only for display.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..catalog import read_data
from ..errors import InvalidStoryboard
from ..format.load import read_document, validate

BUILTIN = "built-in"
# Sanity bounds: a price beyond them is a typo (`1e30`), and money stays exact.
MAX_PER_SECOND = Decimal(1000)
MAX_MULTIPLIER = Decimal(100)


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ModelPrice(_Data):
    """The price of one model."""

    per_second: Decimal = Field(ge=0, le=MAX_PER_SECOND, description="US dollars per second of generated video.")
    multipliers: dict[Literal["video", "sound"], Annotated[Decimal, Field(ge=0, le=MAX_MULTIPLIER)]] = Field(
        default_factory=dict,
        description="`video`: with a reference video (overrides sound); `sound`: with generated sound.",
    )
    sound_per_second: Decimal | None = Field(
        default=None, ge=0, le=MAX_PER_SECOND,
        description="US dollars per second with generated sound, where the host publishes it as a price of its own "
        "(fal) rather than a multiplier; it wins over the `sound` multiplier.",
    )
    source: str | None = Field(default=None, description="Where this price was read (a page, a quote).")


class PriceList(_Data):
    """A provider's prices on a given date."""

    name: str = Field(min_length=1, description="A name for this price list; plans name the list they used.")
    as_of: dt.date = Field(description="The date these prices were read.")
    currency: Literal["USD"] = Field(default="USD", description="Prices are in US dollars.")
    models: dict[str, ModelPrice] = Field(description="Prices by model id.")


def builtin_prices(provider: str = "wavespeed") -> PriceList:
    """The built-in price list of a host (the preview provider is priced as WaveSpeed, then made free)."""
    return PriceList.model_validate(read_data("prices-fal.yaml" if provider == "fal" else "prices-wavespeed.yaml"))


def load_price_list(path: Path, display: str) -> PriceList:
    """A user's price list; every problem reported with its position in that file."""
    doc = read_document(path, display, what="price list")
    prices = validate(PriceList, doc.data, doc.reporter) if doc.data is not None else None
    if prices is None or doc.reporter.has_errors:
        raise InvalidStoryboard(doc.reporter.diagnostics)
    return prices


def job_cost(prices: PriceList, model: str, seconds: int | float, *, video: bool, sound: bool) -> Decimal | None:
    """What one job costs, or None when the list has no price for the model."""
    price = prices.models.get(model)
    if price is None:
        return None
    if sound and not video and price.sound_per_second is not None:
        return exact(price.sound_per_second * Decimal(str(seconds)))
    multiplier = Decimal(1)
    if video:
        multiplier = price.multipliers.get("video", multiplier)
    elif sound:
        multiplier = price.multipliers.get("sound", multiplier)
    return exact(price.per_second * Decimal(str(seconds)) * multiplier)


def exact(amount: Decimal) -> Decimal:
    """The same amount without trailing zeros or an exponent: 0.5600 → 0.56."""
    if amount == 0:
        return Decimal(0)
    normal = amount.normalize()
    if normal != normal.to_integral():
        return normal
    try:
        return normal.quantize(Decimal(1))
    except InvalidOperation:  # more digits than the context holds: already exact
        return normal


def dollars(amount: Decimal | None) -> str:
    """Money as people read it: to a tenth of a cent, as the seed's table does ($0.560, $0.000).
    Every amount the tool prints goes through here, so it reads one way everywhere."""
    if amount is None:
        return "unpriced"
    try:
        return "$" + fixed(amount)
    except InvalidOperation:  # an amount too large to show to the cent
        return f"${amount:,.0f}"


def fixed(amount: Decimal | int) -> str:
    """Money for JSON: a string with exactly three decimals ("0.560"), so it reads the
    same as the text and no reader turns it into a float."""
    return str(Decimal(amount).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))


def fixed_or_none(amount: Decimal | None) -> str | None:
    return None if amount is None else fixed(amount)
