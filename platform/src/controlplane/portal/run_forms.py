"""The runs pages' forms: the list's filters and cursor, the log viewer's query, and a re-run's parameters."""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import uuid
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import Q, QuerySet

from flowyard_spec.states import RunState, TriggerKind

ANY = [("", "Any")]
LOG_LEVELS = ["ERROR", "WARNING", "INFO", "DEBUG"]


@dataclass(frozen=True)
class RunCursor:
    """A position in the runs list, newest first: the last shown run's (created_at, id); opaque in URLs."""

    created_at: datetime.datetime
    run_id: uuid.UUID

    @classmethod
    def after(cls, run: Any) -> RunCursor:
        """The cursor of the page that follows `run`."""
        return cls(created_at=run.created_at, run_id=run.pk)

    def encode(self) -> str:
        """The cursor as a URL-safe token."""
        raw = f"{self.created_at.isoformat()}|{self.run_id.hex}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> RunCursor:
        """The cursor a token stands for; ValueError when it is not one of ours."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            at, _, run_id = raw.partition("|")
            created_at = datetime.datetime.fromisoformat(at)
            if created_at.tzinfo is None:
                raise ValueError("a cursor's time has a timezone")
            return cls(created_at=created_at, run_id=uuid.UUID(run_id))
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ValueError(str(exc)) from None

    def older(self, runs: QuerySet) -> QuerySet:
        """The runs after this position in (created_at, id) descending order: one keyset range on the index."""
        return runs.filter(Q(created_at__lt=self.created_at) | Q(created_at=self.created_at, id__lt=self.run_id))


class RunFilterForm(forms.Form):
    """Which runs the list shows: state, environment, workflow, trigger kind, a creation time range, a cursor."""

    state = forms.ChoiceField(required=False, choices=ANY + [(state.value, state.value) for state in RunState])
    environment = forms.ChoiceField(required=False, choices=ANY)
    workflow = forms.ChoiceField(required=False, choices=ANY)
    trigger = forms.ChoiceField(required=False, label="Trigger",
                                choices=ANY + [(kind.value, kind.value) for kind in TriggerKind])
    cursor = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, environment_names: list[str], workflows: list[tuple[str, str]]) -> None:
        super().__init__(data)
        self.fields["environment"].choices = ANY + [(name, name) for name in environment_names]
        self.fields["workflow"].choices = ANY + workflows
        widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
        # `from` and `to` are the query's names; they are Python keywords, so they are added here.
        self.fields["from"] = forms.DateTimeField(required=False, label="Created from (UTC)", widget=widget)
        self.fields["to"] = forms.DateTimeField(required=False, label="Created until (UTC)", widget=widget)

    def clean_cursor(self) -> RunCursor | None:
        """The decoded cursor, or None on the first page."""
        token = self.cleaned_data.get("cursor", "")
        if not token:
            return None
        try:
            return RunCursor.decode(token)
        except ValueError:
            raise forms.ValidationError("This page link is broken; start again from the first page.") from None

    def filtered(self, runs: QuerySet) -> QuerySet:
        """`runs` narrowed by every valid filter, newest first, from the cursor on."""
        data = self.cleaned_data if self.is_bound else {}
        lookups = {"state": "state", "environment": "deployment__environment__name",
                   "workflow": "deployment__workflow_id", "trigger": "trigger"}
        runs = runs.filter(**{lookup: data[name] for name, lookup in lookups.items() if data.get(name)})
        if data.get("from"):
            runs = runs.filter(created_at__gte=data["from"])
        if data.get("to"):
            runs = runs.filter(created_at__lte=data["to"])
        if data.get("cursor"):
            runs = data["cursor"].older(runs)
        return runs.order_by("-created_at", "-id")

    def query_without_cursor(self) -> dict[str, str]:
        """The filters as query parameters (to build the next page's link)."""
        data = self.data if self.is_bound else {}
        return {name: data[name] for name in self.fields if name != "cursor" and data.get(name)}


class LogQueryForm(forms.Form):
    """A read of a run's log: lines after `after`, or a window from `log_from`; for downloads, filters."""

    after = forms.IntegerField(required=False, min_value=0)
    log_from = forms.IntegerField(required=False, min_value=1)
    limit = forms.IntegerField(required=False, min_value=1, max_value=2000)
    task = forms.CharField(required=False, max_length=255)
    level = forms.ChoiceField(required=False, choices=ANY + [(level, level) for level in LOG_LEVELS])
    q = forms.CharField(required=False, max_length=500, strip=False)


class RerunForm(forms.Form):
    """A re-run's parameters as one JSON object, prefilled with the run's own."""

    parameters = forms.CharField(
        label="Parameters (JSON)", strip=False, widget=forms.Textarea(attrs={"rows": 8, "cols": 60}),
        help_text="A JSON object of parameter names and values; names the deployed version does not declare are refused.",
    )

    def clean_parameters(self) -> dict[str, Any]:
        """The text as a JSON object; anything else is refused with what to type instead."""
        try:
            value = json.loads(self.cleaned_data["parameters"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"This is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Give a JSON object, e.g. {"day": "2026-01-01"}.')
        return value

    @classmethod
    def prefilled(cls, parameters: dict[str, Any]) -> RerunForm:
        """An unbound form showing `parameters`, one per line."""
        return cls(initial={"parameters": json.dumps(parameters, indent=2, sort_keys=True)})
