"""``notify(channel)``: a channel of ``tierwise.toml`` ([channels.NAME]) says where the batch goes — a webhook
(the registry's ``webhook`` handler, signed with the secret its ``secret_env`` names), an export file or the
run's log — so a rule file names no address and no secret."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pydantic import Field, ValidationError

from tierwise.engine.plugin_api import (FAILED, PENDING, ActionBatch, ActionHandler, DeliveryResult, PluginOptions,
                                        SettingsProblem, closest)

if TYPE_CHECKING:  # pragma: no cover
    from tierwise.engine.plugin_api import Registry, Settings, UnreadableSettings


class NotifyOptions(PluginOptions):
    channel: str = Field(description="a channel in tierwise.toml: [channels.NAME]")


def _where(settings: Settings | UnreadableSettings | None) -> str:
    return settings.path.name if settings is not None and settings.path is not None else "tierwise.toml"


def channel_problems(channel: str, settings: Settings | UnreadableSettings | None,
                     actions: Mapping[str, type[ActionHandler]]) -> list[SettingsProblem]:
    """What is wrong with handing a batch to ``channel``: not in the settings, its kind's handler not
    installed (``actions``: the handlers by name), or options that handler refuses."""
    channels = sorted(settings.channels) if settings is not None else []
    if settings is None or channel not in settings.channels:
        close = closest(channel, channels)
        return [SettingsProblem(f"no channel '{channel}' in {_where(settings)}", option="channel",
                                expected="one of: " + ", ".join(channels) if channels else
                                f'[channels.{channel}] with kind = "webhook", "export" or "log" in {_where(settings)}',
                                hint=f"did you mean '{close}'?" if close else None)]
    ch = settings.channels[channel]
    handler = actions.get(ch.kind)
    if handler is None:
        return [SettingsProblem(f"channel '{channel}' is a {ch.kind}, and no plugin provides action '{ch.kind}'",
                                option="channel", hint="install a plugin that provides it")]
    try:
        handler.Options(**ch.handler_options(settings.base_dir))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc") or ())
        msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        what = (f"{ch.kind} needs {field}" if first.get("type") == "missing"
                else f"{ch.kind} refuses {field or 'its options'}: {msg}")
        return [SettingsProblem(f"channel '{channel}' in {_where(settings)}: {what}", option="channel",
                                hint=f"set {field} under [channels.{channel}]" if first.get("type") == "missing"
                                else None)]
    return []


class NotifyAction(ActionHandler):
    """Hands the batch to the channel's handler: webhook, export or log, as tierwise.toml says."""

    name = "notify"
    Options = NotifyOptions
    positional = ("channel",)
    needs_settings = True

    @classmethod
    def check_settings(cls, options: NotifyOptions, settings: Settings, registry: Registry | None
                       ) -> list[SettingsProblem]:
        return channel_problems(options.channel, settings, registry.actions if registry is not None else {})

    def deliver(self, batch: ActionBatch) -> list[DeliveryResult]:
        ctx = batch.context
        actions = ctx.actions()
        unreadable = ctx.unreadable_settings()
        if unreadable is not None:  # tierwise.toml has errors: not this delivery's fault
            return [DeliveryResult(i.idempotency_key, PENDING, unreadable.summary()) for i in batch.items]
        problems = channel_problems(batch.options.channel, ctx.settings, actions)
        if problems:
            return [DeliveryResult(i.idempotency_key, FAILED, problems[0].message) for i in batch.items]
        assert ctx.settings is not None  # the channel was found in them
        channel = ctx.settings.channels[batch.options.channel]
        handler_cls = actions[channel.kind]
        options = handler_cls.Options(**channel.handler_options(ctx.settings.base_dir))
        size = getattr(options, "batch", None) or handler_cls.batch_size
        handler = handler_cls()
        results: list[DeliveryResult] = []
        for start in range(0, len(batch.items), max(int(size), 1)):
            chunk = batch.items[start:start + size]
            results += handler.deliver(ActionBatch(batch.run_id, batch.ruleset, batch.action, options, chunk,
                                                   batch.log, ctx))
        return results
