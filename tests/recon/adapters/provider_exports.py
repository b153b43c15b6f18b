"""Provider exports written by the tests, in each provider's documented columns (never
downloaded): the column lists below are the providers' own, see docs/adapters.md for the
documents. A test gives the values it cares about; every other documented column is present and
blank (CSV) or absent (JSON), as in a real export."""

import csv
import json
from pathlib import Path

# Stripe's Charge object (https://docs.stripe.com/api/charges/object), flattened as its CSV
# exports show it; metadata keys are columns named `<key> (metadata)`.
STRIPE_CHARGE_COLUMNS = (
    "id", "object", "amount", "amount_captured", "amount_refunded", "balance_transaction",
    "captured", "created", "currency", "customer", "description", "disputed", "failure_code",
    "failure_message", "livemode", "paid", "payment_intent", "payment_method", "receipt_email",
    "refunded", "statement_descriptor", "status", "checkout_id (metadata)",
)  # fmt: skip

# Stripe's Refund object (https://docs.stripe.com/api/refunds/object).
STRIPE_REFUND_COLUMNS = (
    "id", "object", "amount", "balance_transaction", "charge", "created", "currency",
    "failure_reason", "payment_intent", "reason", "receipt_number", "status",
    "checkout_id (metadata)",
)  # fmt: skip

# Shopify's orders export CSV (help.shopify.com, "Exporting orders"), one row per line item;
# `Landing Site` and `Referring Site` as the issue names them (the Order's landing_site and
# referring_site).
SHOPIFY_ORDER_COLUMNS = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Notes", "Note Attributes",
    "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount", "Vendor",
    "Outstanding Balance", "Employee", "Location", "Device ID", "Id", "Tags", "Risk Level",
    "Source", "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Phone", "Receipt Number",
    "Duties", "Billing Province Name", "Shipping Province Name", "Payment ID",
    "Payment Terms Name", "Next Payment Due At", "Payment References", "Landing Site",
    "Referring Site",
)  # fmt: skip

# Order-level columns Shopify fills on an order's first line-item row only.
SHOPIFY_FIRST_ROW_ONLY = (
    "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Created at", "Cancelled at",
    "Payment Method", "Refunded Amount", "Id", "Landing Site", "Referring Site",
)  # fmt: skip


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict]) -> Path:
    unknown = {key for row in rows for key in row} - set(columns)
    assert not unknown, f"not documented columns: {unknown}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
    return path


def stripe_charge(charge_id: str, checkout_id: str | None, amount: int, created: int, **kw):
    """A succeeded, captured card charge (Stripe's defaults), overridable field by field."""
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount if kw.get("captured", "true") == "true" else 0,
        "amount_refunded": 0,
        "balance_transaction": f"txn_{charge_id[3:]}",
        "captured": "true",
        "created": created,
        "currency": "eur",
        "livemode": "false",
        "paid": "true",
        "payment_intent": f"pi_{charge_id[3:]}",
        "payment_method": f"pm_{charge_id[3:]}",
        "refunded": "false",
        "status": "succeeded",
        "checkout_id (metadata)": checkout_id,
        **kw,
    }


def stripe_refund(refund_id: str, charge_id: str, checkout_id: str, amount: int, created: int):
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "charge": charge_id,
        "created": created,
        "currency": "eur",
        "payment_intent": f"pi_{charge_id[3:]}",
        "reason": "requested_by_customer",
        "status": "succeeded",
        "checkout_id (metadata)": checkout_id,
    }


def shopify_order(name: str, order_id: str, created_at: str, items: list[tuple[str, int, str]],
                  *, subtotal: str, taxes: str, total: str, currency: str = "EUR",
                  landing_site: str | None = None, referring_site: str | None = None,
                  cancelled_at: str | None = None) -> list[dict]:  # fmt: skip
    """The export's rows of one order: one per (sku, quantity, price) line item, order-level
    columns on the first row only, as Shopify writes them."""
    first = {
        "Financial Status": "refunded" if cancelled_at else "paid",
        "Paid at": created_at,
        "Fulfillment Status": "unfulfilled",
        "Accepts Marketing": "no",
        "Currency": currency,
        "Subtotal": subtotal,
        "Shipping": "0.00",
        "Taxes": taxes,
        "Total": total,
        "Created at": created_at,
        "Cancelled at": cancelled_at,
        "Payment Method": "Stripe",
        "Refunded Amount": total if cancelled_at else "0.00",
        "Id": order_id,
        "Landing Site": landing_site,
        "Referring Site": referring_site,
    }
    rows = []
    for number, (sku, quantity, price) in enumerate(items):
        row = {
            "Name": name,
            "Email": "shopper@example.com",
            "Lineitem quantity": quantity,
            "Lineitem name": f"Product {sku}",
            "Lineitem price": price,
            "Lineitem sku": sku,
            "Lineitem requires shipping": "true",
            "Lineitem taxable": "true",
            "Lineitem fulfillment status": "pending",
            "Billing Country": "DE",
            "Vendor": "Example Shop",
        }
        rows.append({**row, **first} if number == 0 else row)
    return rows


def segment_track(message_id: str, event: str, timestamp: str, received_at: str,
                  properties: dict, *, campaign: dict | None = None,
                  referrer: str | None = None, anonymous_id: str = "anon-1") -> dict:  # fmt: skip
    """A track call with Segment's common fields
    (https://segment.com/docs/connections/spec/common/)."""
    context = {"library": {"name": "analytics.js", "version": "2.11.1"}, "ip": "203.0.113.7"}
    if campaign:
        context["campaign"] = campaign
    context["page"] = {"path": "/checkout", "referrer": referrer, "url": "https://shop.example/"}
    return {
        "anonymousId": anonymous_id,
        "context": context,
        "event": event,
        "integrations": {},
        "messageId": message_id,
        "originalTimestamp": timestamp,
        "properties": properties,
        "receivedAt": received_at,
        "sentAt": timestamp,
        "timestamp": timestamp,
        "type": "track",
        "userId": None,
        "version": 2,
    }


def write_jsonl(path: Path, records: list[dict | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Stripe's BalanceTransaction object (https://docs.stripe.com/api/balance_transactions/object),
# flattened as a CSV shows it, with the source's `checkout_id` metadata as its own column.
STRIPE_BALANCE_TRANSACTION_COLUMNS = (
    "id", "object", "amount", "available_on", "balance_type", "created", "currency",
    "description", "exchange_rate", "fee", "fee_details", "net", "reporting_category", "source",
    "status", "type", "checkout_id (metadata)",
)  # fmt: skip


def stripe_balance_transaction(txn_id: str, source: str, kind: str, amount: int, created: int,
                               checkout_id: str | None = None, **kw) -> dict:  # fmt: skip
    """A balance transaction of `kind` (its `type`); `fee` is Stripe's 1.5% + 25 on charges."""
    fee = round(abs(amount) * 0.015) + 25 if kind in ("charge", "payment") else 0
    category = {"payment": "charge", "payment_refund": "refund", "stripe_fee": "fee"}
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": created + 2 * 86400,
        "balance_type": "payments",
        "created": created,
        "currency": "eur",
        "fee": fee,
        "net": amount - fee,
        "reporting_category": category.get(kind, kind),
        "source": source,
        "status": "pending",
        "type": kind,
        "checkout_id (metadata)": checkout_id,
        **kw,
    }


# Adyen's Settlement details report
# (https://docs.adyen.com/reporting/settlement-reconciliation/transaction-level/settlement-details-report):
# the documented columns in their order; Reserved4 to Reserved10 are the report's empty trailing
# columns (its sample lines have 30 fields).
ADYEN_SETTLEMENT_COLUMNS = (
    "Company Account", "Merchant Account", "Psp Reference", "Merchant Reference",
    "Payment Method", "Creation Date", "TimeZone", "Type", "Modification Reference",
    "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)", "Exchange Rate", "Net Currency",
    "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)", "Markup (NC)", "Scheme Fees (NC)",
    "Interchange (NC)", "Payment Method Variant", "Modification Merchant Reference",
    "Batch Number", *(f"Reserved{n}" for n in range(4, 11)),
)  # fmt: skip


def _adyen_journal_entry(record_type: str, created: str, zone: str) -> dict:
    """The columns every entry of the report has: batch 42 of ExampleShopECOM."""
    return {
        "Company Account": "ExampleCompany",
        "Merchant Account": "ExampleShopECOM",
        "Creation Date": created,
        "TimeZone": zone,
        "Type": record_type,
        "Batch Number": "42",
    }


def adyen_line(record_type: str, psp: str | None, reference: str | None, created: str,
               zone: str, *, gross: str | None = None, currency: str = "EUR",
               modification: str | None = None) -> dict:  # fmt: skip
    """One line of the report. `gross` is the shopper's amount: a credit for Settled, a debit for
    Refunded; fee and payout lines have no payment columns."""
    line = _adyen_journal_entry(record_type, created, zone) | {"Net Currency": currency}
    if psp is None:
        return line | {"Modification Reference": modification or "Transaction Fees",
                       "Net Debit (NC)": gross}  # fmt: skip
    debit = record_type in ("Refunded", "Chargeback")
    return line | {
        "Psp Reference": psp,
        "Merchant Reference": reference,
        "Payment Method": "visa",
        "Modification Reference": modification,
        "Gross Currency": currency,
        "Gross Debit (GC)" if debit else "Gross Credit (GC)": gross,
        "Exchange Rate": "1",
        "Net Debit (NC)" if debit else "Net Credit (NC)": gross,
        "Payment Method Variant": "visaclassic",
    }


def ga4_event(name: str, micros: int, params: dict, *, pseudo_id: str = "1234.5678",
              ecommerce: dict | None = None, collected: dict | None = None) -> dict:  # fmt: skip
    """One row of GA4's BigQuery export (https://support.google.com/analytics/answer/7029846) as
    BigQuery's JSON export writes it: INT64 as strings, event_params as {key, value} records with
    the one typed value set."""

    def value(v):
        if isinstance(v, str):
            return {"string_value": v}
        if isinstance(v, int):
            return {"int_value": str(v)}
        return {"double_value": v}

    row = {
        "event_date": "20260310",
        "event_timestamp": str(micros),
        "event_name": name,
        "event_params": [{"key": k, "value": value(v)} for k, v in params.items()],
        "event_bundle_sequence_id": "7",
        "event_server_timestamp_offset": "1200",
        "user_pseudo_id": pseudo_id,
        "privacy_info": {"analytics_storage": "Yes", "ads_storage": "Yes"},
        "user_first_touch_timestamp": str(micros - 86_400_000_000),
        "device": {"category": "desktop", "web_info": {"browser": "Chrome"}},
        "geo": {"country": "Germany"},
        "traffic_source": {"name": "(direct)", "medium": "(none)", "source": "(direct)"},
        "stream_id": "4321",
        "platform": "WEB",
        "items": [],
        "is_active_user": True,
    }
    if ecommerce is not None:
        row["ecommerce"] = ecommerce
    if collected is not None:
        row["collected_traffic_source"] = collected
    return row


# A payout's balance transactions as a merchant exports them through the API
# (GET /v1/balance_transactions?payout=po_...&expand[]=data.source): the object's own fields,
# with the payout the list was filtered by added as `payout` (the object has no payout field;
# `payout` is the name stripe_balance_settlements reads, see docs/adapters.md).
def stripe_settlement_transaction(
    txn_id: str,
    kind: str,
    amount: int,
    fee: int,
    available_on: int,
    *,
    payout: str | None = "po_1",
    source: dict | str | None = None,
    category: str | None = None,
    currency: str = "eur",
) -> dict:
    """A balance transaction of `kind` (its `type`), its source expanded when `source` is a
    dict (a Charge, Refund or Dispute object with its `payment_intent`)."""
    categories = {"payment": "charge", "payment_refund": "refund", "stripe_fee": "fee"}
    record = {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "available_on": available_on,
        "balance_type": "payments",
        "created": available_on - 2 * 86400,
        "currency": currency,
        "description": None,
        "exchange_rate": None,
        "fee": fee,
        "fee_details": [{"amount": fee, "currency": currency, "type": "stripe_fee"}] if fee else [],
        "net": amount - fee,
        "reporting_category": category or categories.get(kind, kind),
        "source": source,
        "status": "available",
        "type": kind,
    }
    if payout is not None:
        record["payout"] = payout
    return record


# Stripe's Payout object (https://docs.stripe.com/api/payouts/object).
STRIPE_PAYOUT_COLUMNS = (
    "id", "object", "amount", "arrival_date", "automatic", "balance_transaction", "created",
    "currency", "description", "destination", "failure_balance_transaction", "failure_code",
    "failure_message", "livemode", "method", "original_payout", "reconciliation_status",
    "reversed_by", "source_type", "statement_descriptor", "status", "type",
)  # fmt: skip


def stripe_payout(payout_id: str, amount: int, status: str, created: int, **kw) -> dict:
    """An automatic standard payout to a bank account, arriving two days after it was created."""
    return {
        "id": payout_id,
        "object": "payout",
        "amount": amount,
        "arrival_date": created + 2 * 86400,
        "automatic": "true",
        "balance_transaction": f"txn_{payout_id[3:]}",
        "created": created,
        "currency": "eur",
        "destination": "ba_1",
        "livemode": "false",
        "method": "standard",
        "reconciliation_status": "completed" if status == "paid" else "not_applicable",
        "source_type": "card",
        "status": status,
        "type": "bank_account",
        **kw,
    }


def adyen_entry(record_type: str, created: str, zone: str, **columns) -> dict:
    """One journal entry of a Settlement details report with the columns given (by their
    documented names with spaces as `_`, and `GC`/`NC` dropped: `Gross_Credit` for
    `Gross Credit (GC)`, `Scheme_Fees` for `Scheme Fees (NC)`); batch 42 of ExampleShopECOM."""
    names = {
        name.replace(" (GC)", "").replace(" (NC)", "").replace(" ", "_"): name
        for name in ADYEN_SETTLEMENT_COLUMNS
    }
    return _adyen_journal_entry(record_type, created, zone) | {
        names[key]: value for key, value in columns.items()
    }
