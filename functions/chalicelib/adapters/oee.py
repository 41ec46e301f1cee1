"""The OEE area's DynamoDB adapters (:mod:`chalicelib.ports.oee`): stored per-period totals and site calendars.

One table (``oee``), two kinds of items:

* ``pk = M#<machine>``, ``sk = P#<period start, epoch µs, 20 digits>``: one completed period of one
  machine — its bounds, label, shift, the additive totals row (``row``, JSON ``{column: value}``)
  and the machine-level input warnings (``notes``).
* ``pk = M#<machine>``, ``sk = W``: where the machine's scheduled run left off (:class:`OeeProgress`:
  the seqs folded in, the run's time, the inputs' fingerprint); ``W`` sorts after every ``P#`` key;
* ``pk = S#<site>``, ``sk = calendar``: the site's :class:`PlantCalendar` as JSON;
* ``pk = S#<site>``, ``sk = state-codes``: the site's own state codes (:class:`PlantStateCodes`) as JSON.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.tables import table_name
from chalicelib.ports.oee import OeeProgress, StoredPeriod
from chalicelib.ports.twins import DEVICE_CACHE_MAX_AGE_S
from twin_models.oee import FoldedSeqs, PlantCalendar
from twin_models.states import PlantStateCodes

__all__ = ["CalendarStore", "OeeResultStore", "StateCodeStore"]


def _ddb() -> Any:
    return aws.client("dynamodb")


def _sk(start_us: int) -> str:
    return f"P#{start_us:020d}"


class OeeResultStore:
    """Per-machine, per-period totals (table ``oee``)."""

    def put(self, periods: list[StoredPeriod], computed_at: datetime) -> int:
        """Write (or overwrite) periods in batches of 25; returns how many were written."""
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": f"M#{p.machine_id}"},
                        "sk": {"S": _sk(p.start_us)},
                        "start_us": {"N": str(p.start_us)},
                        "end_us": {"N": str(p.end_us)},
                        "label": {"S": p.label},
                        "shift": {"S": p.shift or ""},
                        "row": {"S": json.dumps(p.row, separators=(",", ":"))},
                        "notes": {"S": json.dumps(p.notes)},
                        "computed_at": {"S": computed_at.astimezone(UTC).isoformat()},
                    }
                }
            }
            for p in periods
        ]
        for i in range(0, len(requests), 25):
            pending: dict[str, Any] = {table_name("oee"): requests[i : i + 25]}
            while pending:
                answer = _ddb().batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
        return len(requests)

    def between(self, machine_id: str, start_us: int, end_us: int) -> list[StoredPeriod]:
        """Stored periods that lie inside ``[start_us, end_us)``, in time order."""
        request: dict[str, Any] = {
            "TableName": table_name("oee"),
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"M#{machine_id}"},
                ":lo": {"S": _sk(start_us)},
                ":hi": {"S": _sk(end_us)},
            },
        }
        found: list[StoredPeriod] = []
        while True:
            page = _ddb().query(**request)
            for item in page["Items"]:
                period = StoredPeriod(
                    machine_id=machine_id,
                    start_us=int(item["start_us"]["N"]),
                    end_us=int(item["end_us"]["N"]),
                    label=item["label"]["S"],
                    shift=item["shift"]["S"] or None,
                    row={k: float(v) for k, v in json.loads(item["row"]["S"]).items()},
                    notes=list(json.loads(item["notes"]["S"])),
                )
                if period.end_us <= end_us:
                    found.append(period)
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def progress(self, machine_id: str) -> OeeProgress | None:
        """Where the machine's last scheduled run left off, or None before its first."""
        found = _ddb().get_item(TableName=table_name("oee"), Key={"pk": {"S": f"M#{machine_id}"}, "sk": {"S": "W"}})
        if "Item" not in found:
            return None
        doc = json.loads(found["Item"]["body"]["S"])
        return OeeProgress(
            machine_id=machine_id,
            folded=FoldedSeqs.from_dict(doc["folded"]),
            until_us=int(doc["until_us"]),
            fingerprint=str(doc["fingerprint"]),
        )

    def put_progress(self, progress: OeeProgress) -> None:
        """Store where the machine's scheduled run left off."""
        doc = {"folded": progress.folded.to_dict(), "until_us": progress.until_us, "fingerprint": progress.fingerprint}
        _ddb().put_item(
            TableName=table_name("oee"),
            Item={
                "pk": {"S": f"M#{progress.machine_id}"},
                "sk": {"S": "W"},
                "body": {"S": json.dumps(doc, separators=(",", ":"))},
            },
        )


class CalendarStore:
    """Site calendars (table ``oee``, ``pk = S#<site>``)."""

    def put(self, site: str, calendar: PlantCalendar) -> None:
        """Store a site's calendar."""
        _ddb().put_item(
            TableName=table_name("oee"),
            Item={"pk": {"S": f"S#{site}"}, "sk": {"S": "calendar"}, "body": {"S": calendar.model_dump_json()}},
        )

    def get(self, site: str) -> PlantCalendar | None:
        """A site's calendar, or None when none is stored."""
        found = _ddb().get_item(TableName=table_name("oee"), Key={"pk": {"S": f"S#{site}"}, "sk": {"S": "calendar"}})
        if "Item" not in found:
            return None
        return PlantCalendar.model_validate_json(found["Item"]["body"]["S"])


class StateCodeStore:
    """Site state-code mappings (table ``oee``, ``pk = S#<site>``, ``sk = state-codes``), cached per container
    like the devices (:data:`~chalicelib.ports.twins.DEVICE_CACHE_MAX_AGE_S`)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, PlantStateCodes | None]] = {}

    def put(self, site: str, codes: PlantStateCodes) -> None:
        """Store a site's mapping."""
        _ddb().put_item(
            TableName=table_name("oee"),
            Item={"pk": {"S": f"S#{site}"}, "sk": {"S": "state-codes"}, "body": {"S": codes.model_dump_json()}},
        )
        self._cache.pop(site, None)

    def get(self, site: str, max_age_s: float = DEVICE_CACHE_MAX_AGE_S) -> PlantStateCodes | None:
        """A site's mapping, or None when none is stored; cached for at most ``max_age_s``."""
        cached = self._cache.get(site)
        if cached and time.monotonic() - cached[0] < max_age_s:
            return cached[1]
        found = _ddb().get_item(TableName=table_name("oee"), Key={"pk": {"S": f"S#{site}"}, "sk": {"S": "state-codes"}})
        codes = PlantStateCodes.model_validate_json(found["Item"]["body"]["S"]) if "Item" in found else None
        self._cache[site] = (time.monotonic(), codes)
        return codes
