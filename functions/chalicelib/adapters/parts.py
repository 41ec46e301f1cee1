"""The parts area's DynamoDB adapter (:class:`chalicelib.ports.parts.Parts`), table ``parts``.

Items (``pk``, ``sk``):

* ``P#<machine>``, ``<seq, 20 digits>`` — one envelope's piece (JSON) and its raw body (binary);
* ``R#<part_id>``, ``record`` — the part record, written once (``attribute_not_exists``), and ``shared``;
* ``M#<machine>``, ``<cycle end µs, 20 digits>#<count, 20 digits>`` — the same record for listing by time
  (written first, so a crash between the two writes is repaired by the next derivation);
* ``R#<part_id>``, ``I#<number, 6 digits>`` — an inspection, written once per number;
* ``S#<machine>``, ``scheme`` — the machine's part id scheme.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamodb import write_if
from chalicelib.adapters.tables import table_name
from chalicelib.ports.parts import StoredPart
from twin_models.parts import InspectionRecord, PartIdScheme, PartRecord, Piece
from twin_models.timestamps import to_micros

__all__ = ["DynamoParts"]


def _ddb() -> Any:
    return aws.client("dynamodb")


def _table() -> str:
    return table_name("parts")


def _index_sk(record: PartRecord) -> str:
    return f"{to_micros(record.cycle_end):020d}#{record.count:020d}"


def _stored(item: dict[str, Any]) -> StoredPart:
    shared = tuple(v["S"] for v in item.get("shared", {}).get("L", []))
    return StoredPart(record=PartRecord.model_validate_json(item["record"]["S"]), shared_with=shared)


class DynamoParts:
    """Pieces, envelopes, part records, shares, inspections and schemes in DynamoDB."""

    def put_piece(self, piece: Piece, body: bytes) -> None:
        """Keep a piece and its raw envelope (first write wins)."""
        write_if(
            lambda: _ddb().put_item(
                TableName=_table(),
                Item={
                    "pk": {"S": f"P#{piece.machine_id}"},
                    "sk": {"S": f"{piece.seq:020d}"},
                    "piece": {"S": piece.model_dump_json()},
                    "body": {"B": body},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        )

    def pieces(self, machine_id: str, lo: int, hi: int) -> dict[int, Piece]:
        """Stored pieces with ``lo <= seq <= hi`` (one paginated query)."""
        request: dict[str, Any] = {
            "TableName": _table(),
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"P#{machine_id}"},
                ":lo": {"S": f"{max(lo, 0):020d}"},
                ":hi": {"S": f"{max(hi, 0):020d}"},
            },
            "ProjectionExpression": "sk, piece",
        }
        found: dict[int, Piece] = {}
        while True:
            page = _ddb().query(**request)
            for item in page["Items"]:
                found[int(item["sk"]["S"])] = Piece.model_validate_json(item["piece"]["S"])
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def envelope(self, machine_id: str, seq: int) -> bytes | None:
        """The raw envelope of ``(machine, seq)``."""
        found = (
            _ddb()
            .get_item(TableName=_table(), Key={"pk": {"S": f"P#{machine_id}"}, "sk": {"S": f"{seq:020d}"}})
            .get("Item")
        )
        return bytes(found["body"]["B"]) if found else None

    def put_part(self, record: PartRecord) -> bool:
        """The listing item, then the record item unless it exists."""
        body = {"S": record.model_dump_json()}
        _ddb().put_item(
            TableName=_table(),
            Item={"pk": {"S": f"M#{record.machine_id}"}, "sk": {"S": _index_sk(record)}, "record": body},
        )
        return write_if(
            lambda: _ddb().put_item(
                TableName=_table(),
                Item={"pk": {"S": f"R#{record.part_id}"}, "sk": {"S": "record"}, "record": body},
                ConditionExpression="attribute_not_exists(pk)",
            )
        )

    def get(self, part_id: str) -> StoredPart | None:
        """A stored part."""
        found = _ddb().get_item(TableName=_table(), Key={"pk": {"S": f"R#{part_id}"}, "sk": {"S": "record"}})
        return _stored(found["Item"]) if "Item" in found else None

    def for_machine(self, machine_id: str, start: datetime, end: datetime) -> list[StoredPart]:
        """The machine's parts ended in ``[start, end)`` (one paginated query)."""
        request: dict[str, Any] = {
            "TableName": _table(),
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"M#{machine_id}"},
                ":lo": {"S": f"{max(to_micros(start), 0):020d}"},
                ":hi": {"S": f"{max(to_micros(end), 0):020d}"},
            },
        }
        found: list[StoredPart] = []
        while True:
            page = _ddb().query(**request)
            found += [_stored(item) for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return [p for p in found if start <= p.record.cycle_end < end]
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def share(self, part_id: str, tenant: str) -> None:
        """Add ``tenant`` to ``shared`` of the record and its listing item (idempotent)."""
        stored = self.get(part_id)
        if stored is None or tenant in stored.shared_with:
            return
        shared = {"L": [{"S": t} for t in (*stored.shared_with, tenant)]}
        for key in (
            {"pk": {"S": f"R#{part_id}"}, "sk": {"S": "record"}},
            {"pk": {"S": f"M#{stored.record.machine_id}"}, "sk": {"S": _index_sk(stored.record)}},
        ):
            _ddb().update_item(
                TableName=_table(),
                Key=key,
                UpdateExpression="SET #shared = :s",
                ExpressionAttributeNames={"#shared": "shared"},
                ExpressionAttributeValues={":s": shared},
            )

    def add_inspection(self, record: InspectionRecord) -> bool:
        """Store an inspection unless its number exists."""
        return write_if(
            lambda: _ddb().put_item(
                TableName=_table(),
                Item={
                    "pk": {"S": f"R#{record.part_id}"},
                    "sk": {"S": f"I#{record.number:06d}"},
                    "body": {"S": record.model_dump_json()},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        )

    def inspections(self, part_id: str) -> list[InspectionRecord]:
        """A part's inspections by number."""
        page = _ddb().query(
            TableName=_table(),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :i)",
            ExpressionAttributeValues={":pk": {"S": f"R#{part_id}"}, ":i": {"S": "I#"}},
        )
        return [InspectionRecord.model_validate_json(item["body"]["S"]) for item in page["Items"]]

    def scheme(self, machine_id: str) -> PartIdScheme | None:
        """The machine's id scheme."""
        found = _ddb().get_item(TableName=_table(), Key={"pk": {"S": f"S#{machine_id}"}, "sk": {"S": "scheme"}})
        return PartIdScheme.model_validate(json.loads(found["Item"]["body"]["S"])) if "Item" in found else None

    def set_scheme(self, machine_id: str, scheme: PartIdScheme) -> None:
        """Set the machine's id scheme."""
        _ddb().put_item(
            TableName=_table(),
            Item={"pk": {"S": f"S#{machine_id}"}, "sk": {"S": "scheme"}, "body": {"S": scheme.model_dump_json()}},
        )
