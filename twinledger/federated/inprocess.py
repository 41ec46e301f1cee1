"""The same federation in one process: a Flower ``Grid`` that hands each message to the ``ClientApp``.

The benchmark and the quick tests need many federations (three datasets, four attacks, two strategies);
starting a SuperLink and SuperNodes for each would take minutes. :class:`InProcessGrid` implements
Flower's ``Grid`` interface by calling the very ``ClientApp`` the SuperNodes run, with each lessee's
node config, so :func:`twinledger.federated.server_app.federate` — the statistics, the strategy and its
screening, the threshold — runs unchanged. What it skips is only the transport; the deployed path
(:mod:`twinledger.federated.launcher`) runs in the integration test.

Example:
    >>> result = run_inprocess({"dataset": "synthetic", "clients": 3, "rounds": 2})
    >>> len(result["rounds"]), result["lessees"]
    (2, ['lessee-1', 'lessee-2', 'lessee-3'])
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from flwr.app import Context, Message, RecordDict
from flwr.serverapp import Grid
from flwr.supercore.task_identity import TaskIdentity

from twinledger.federated.client_app import app as client_app
from twinledger.federated.server_app import federate

__all__ = ["InProcessGrid", "run_inprocess"]

#: The lessor's node id in the messages it sends.
SERVER_NODE = 0


class InProcessGrid(Grid):
    """A grid of lessees served in this process by the ``ClientApp`` (node ids 1..n)."""

    def __init__(self, run_config: Mapping[str, Any], node_configs: list[dict[str, Any]]) -> None:
        self._run_config = dict(run_config)
        self._contexts = {
            i + 1: Context(run_id=1, node_id=i + 1, node_config=cfg, state=RecordDict(), run_config=self._run_config)
            for i, cfg in enumerate(node_configs)
        }
        self._replies: dict[str, Message] = {}
        TaskIdentity.run_id = 1
        TaskIdentity.node_id = SERVER_NODE
        TaskIdentity.task_id = 0

    def set_run(self, run: Any) -> None:  # the run is fixed at construction
        """Not used: the run is the one this grid was built for."""

    @property
    def run(self) -> Any:
        """The run's identity (Flower's legacy workflows read its ``run_id``)."""
        return SimpleNamespace(run_id=1)

    def create_message(
        self, content: RecordDict, message_type: str, dst_node_id: int, group_id: str, ttl: float | None = None
    ) -> Message:
        """A message to one lessee."""
        return Message(content=content, dst_node_id=dst_node_id, message_type=message_type, group_id=group_id, ttl=ttl)

    def get_node_ids(self) -> Iterable[int]:
        """The lessees' node ids."""
        return list(self._contexts)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        """Deliver each message to its lessee's ``ClientApp`` now; the reply waits to be pulled."""
        ids = []
        for message in messages:
            message.metadata.__dict__["_message_id"] = uuid.uuid4().hex  # as the SuperLink stamps it
            # each lessee gets its own copy, as over the wire (a mod may change what it received)
            reply = client_app(copy.deepcopy(message), self._contexts[message.metadata.dst_node_id])
            self._replies[message.metadata.message_id] = reply
            ids.append(message.metadata.message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        """The replies to these messages."""
        return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(self, messages: Iterable[Message], *, timeout: float | None = None) -> Iterable[Message]:
        """Push, then pull every reply."""
        return self.pull_messages(list(self.push_messages(messages)))


def node_configs(clients: int, attack: str = "", attackers: int = 0) -> list[dict[str, Any]]:
    """Node configs of ``clients`` lessees, the first ``attackers`` of them manipulating with ``attack``.

    Example:
        >>> node_configs(3, "signflip", 1)[0], node_configs(3, "signflip", 1)[1]
        ({'partition-id': 0, 'attack': 'signflip'}, {'partition-id': 1, 'attack': ''})
    """
    return [{"partition-id": i, "attack": attack if i < attackers else ""} for i in range(clients)]


def run_inprocess(run_config: Mapping[str, Any], attack: str = "", attackers: int = 0) -> dict[str, Any]:
    """:func:`federate` over an :class:`InProcessGrid`."""
    config = dict(run_config)
    grid = InProcessGrid(config, node_configs(int(config.get("clients", 4)), attack, attackers))
    return federate(grid, config)
