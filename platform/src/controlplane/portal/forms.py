"""The portal's forms: a run's parameters, a promotion decision, and the catalog's and audit log's filters."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from flowyard_spec.api import TIME_TEMPLATES
from flowyard_spec.states import RunState

ANY = [("", "Any")]


class DescribedFieldsForm(forms.Form):
    """A form whose inputs point at their help text and, once validated, at their error (aria-describedby)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.describe_fields()

    def full_clean(self) -> None:
        """Validate, then mark the inputs with errors as invalid and describe them by their error."""
        super().full_clean()
        self.describe_fields()

    def describe_fields(self) -> None:
        """Set aria-describedby (help text, then error) and aria-invalid on every input."""
        errors = getattr(self, "_errors", None) or {}
        for name, field in self.fields.items():
            bound = self[name]
            described_by = [f"{bound.auto_id}_helptext"] if field.help_text else []
            if name in errors:
                described_by.append(f"{bound.auto_id}_error")
                field.widget.attrs["aria-invalid"] = "true"
            if described_by:
                field.widget.attrs["aria-describedby"] = " ".join(described_by)


def parameter_field(name: str, default: Any) -> forms.Field:
    """A form field for one declared parameter, typed by its default: bool, int, float, string, else JSON."""
    shown = json.dumps(default)
    if isinstance(default, bool):
        return forms.BooleanField(label=name, required=False, initial=default,
                                  help_text=f"True or false (default {shown}).")
    if isinstance(default, int):
        return forms.IntegerField(label=name, initial=default, help_text=f"A whole number (default {shown}).")
    if isinstance(default, float):
        return forms.FloatField(label=name, initial=default, help_text=f"A number (default {shown}).")
    if isinstance(default, str):
        hint = " Left as it is, it becomes the run's start time." if default in TIME_TEMPLATES else ""
        return forms.CharField(label=name, required=False, strip=False, initial=default,
                               help_text=f"Text (default {shown}).{hint}")
    return forms.JSONField(label=name, required=default is not None, initial=default,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=f"JSON (default {shown}).")


class TriggerForm(DescribedFieldsForm):
    """A run's parameters: one field per parameter the deployed version declares, prefilled with its default."""

    prefix = "param"

    def __init__(self, *args: Any, declared: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.declared = declared
        for name, default in declared.items():
            self.fields[name] = parameter_field(name, default)
        self.describe_fields()

    def parameters(self) -> dict[str, Any]:
        """The validated values by parameter name, for `runs.services.run_trigger`."""
        return {name: self.cleaned_data[name] for name in self.declared}


class PromotionDecisionForm(DescribedFieldsForm):
    """Approve or reject a promotion, with a comment recorded on it."""

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], widget=forms.HiddenInput)
    comment = forms.CharField(
        label="Comment", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded on the promotion and in the audit log (optional).",
    )


class CatalogFilterForm(DescribedFieldsForm):
    """The workflow catalog's search box and filters (a plain GET form)."""

    SCHEDULES = [("", "Any"), ("scheduled", "Has an active schedule"), ("unscheduled", "No active schedule")]

    q = forms.CharField(label="Search", required=False, max_length=200, help_text="Name or description.")
    team = forms.ChoiceField(label="Team", required=False)
    project = forms.ChoiceField(label="Project", required=False)
    owner = forms.ChoiceField(label="Owner", required=False)
    schedule = forms.ChoiceField(label="Schedule", required=False, choices=SCHEDULES)
    state = forms.ChoiceField(label="Last run", required=False,
                              choices=ANY + [("NONE", "Never run")] + [(state.value, state.value) for state in RunState])

    def __init__(self, *args: Any, teams: list[str], projects: list[str], owners: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = ANY + [(slug, slug) for slug in teams]
        self.fields["project"].choices = ANY + [(slug, slug) for slug in projects]
        self.fields["owner"].choices = ANY + [(name, name) for name in owners]


class AuditFilterForm(DescribedFieldsForm):
    """The audit log's filters (a plain GET form); times are UTC."""

    project = forms.ChoiceField(label="Project", required=False)
    action = forms.ChoiceField(label="Action", required=False)
    actor = forms.CharField(label="Actor", required=False, max_length=200, help_text="A username or a token's name.")
    since = forms.DateTimeField(label="From (UTC)", required=False,
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    until = forms.DateTimeField(label="To (UTC)", required=False,
                                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))

    def __init__(self, *args: Any, projects: list[str], actions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].choices = ANY + [(slug, slug) for slug in projects]
        self.fields["action"].choices = ANY + [(action, action) for action in actions]

    def clean(self) -> dict[str, Any]:
        """Refuse a time range that ends before it starts."""
        data = super().clean()
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", "The end of the range is before its start.")
        return data
