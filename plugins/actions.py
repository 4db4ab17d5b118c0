"""Built-in action handlers. ``log`` writes one line per affected customer to the run's log; ``export``
(plugins/export.py), ``sql`` (plugins/sql_writeback.py), ``assign_manager`` (plugins/managers.py) and
``notify`` (plugins/notify.py) are registered here too."""
from __future__ import annotations

from pydantic import Field

from tierwise.engine.hookspecs import hookimpl
from tierwise.engine.plugin_api import ActionBatch, ActionHandler, DeliveryResult, PluginOptions


class LogOptions(PluginOptions):
    message: str = Field("", description="text written on each line")


class LogAction(ActionHandler):
    """Writes `action=log customer=... tier=... reason=... message=...` per customer to the run log."""

    name = "log"
    Options = LogOptions
    positional = ("message",)

    def deliver(self, batch: ActionBatch) -> list[DeliveryResult]:
        log, message = batch.log, repr(batch.options.message)
        for item in batch.items:
            log(f"action=log customer={item.customer} tier={item.tier} reason={item.reason!r} "
                f"message={message} key={item.idempotency_key}")
        return [DeliveryResult(item.idempotency_key) for item in batch.items]


@hookimpl
def tierwise_register_actions() -> list[type[ActionHandler]]:
    from .export import ExportAction
    from .managers import AssignManagerAction
    from .notify import NotifyAction
    from .sql_writeback import SqlWriteBack

    return [LogAction, ExportAction, SqlWriteBack, AssignManagerAction, NotifyAction]
