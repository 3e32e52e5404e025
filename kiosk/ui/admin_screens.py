"""The admin screens behind the PIN: menu, recent events, thresholds, registering a person by hand.

Every Admin call goes through `app.call` (a thread, the answer back on the UI
thread) because USB sticks, the network and the log may take their time; the
answer's words are shown as they come. The layouts are in admin.kv.
"""

from __future__ import annotations

from typing import Any

from kivy.app import App  # type: ignore[import-untyped]
from kivy.properties import (  # type: ignore[import-untyped]
    BooleanProperty,
    ColorProperty,
    DictProperty,
    ListProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout  # type: ignore[import-untyped]
from kivy.uix.screenmanager import Screen  # type: ignore[import-untyped]

from kiosk.ui.texts import (
    LINE_COLOURS,
    POLICY_FIELDS,
    SWITCHES,
    field_label,
    policy_text,
    recent_line,
    stepped,
    verdict_level,
)

WORKING = "正在处理…\nworking…"


class AdminBase(Screen):  # type: ignore[misc]
    message = StringProperty("")
    message_colour = ColorProperty(LINE_COLOURS["ok"])

    def ask(self, call: Any, then: Any = None) -> None:
        """Run an Admin call on a thread; its Message (or error) is shown here, then `then(result)` runs."""
        app = App.get_running_app()
        if app.busy or app.admin is None:
            return
        self.say(WORKING, "warn")

        def done(result: Any) -> None:
            if isinstance(result, Exception):
                self.say(f"出错了\nerror: {result}", "alarm")
            elif hasattr(result, "zh"):  # a Message; a fever was kept, but staff must act on it
                self.say(f"{result.zh}\n{result.en}", "alarm" if not result.ok else "warn" if result.fever else "ok")
            else:
                self.message = ""
            if then is not None and not isinstance(result, Exception):
                then(result)

        app.call(lambda: call(app.admin), done)

    def say(self, text: str, level: str) -> None:
        self.message, self.message_colour = text, LINE_COLOURS[level]

    def on_pre_enter(self, *_: object) -> None:
        self.message = ""


class AdminScreen(AdminBase):
    def export(self) -> None:
        self.ask(lambda admin: admin.export_usb())

    def sync(self) -> None:
        self.ask(lambda admin: admin.sync_now())

    def import_trust(self) -> None:
        self.ask(lambda admin: admin.import_usb())

    def leave(self) -> None:
        App.get_running_app().leave_admin()


class RecentScreen(AdminBase):
    rows = ListProperty([])  # RecycleView data: {"text", "colour"}

    def on_pre_enter(self, *_: object) -> None:
        super().on_pre_enter()
        self.refresh()

    def refresh(self) -> None:
        self.ask(lambda admin: admin.recent(30), self._fill)

    def _fill(self, rows: Any) -> None:
        self.rows = [{"text": recent_line(r.time, r.kind, r.verdict, r.reason_zh, r.reason_en, r.temperature),
                      "colour": LINE_COLOURS[verdict_level(r.verdict)] if r.verdict else (0.85, 0.88, 0.95, 1)}
                     for r in rows]
        if not rows:
            self.say("暂无记录\nno events yet", "ok")


class PolicyScreen(AdminBase):
    values = DictProperty({})  # what is on screen (changed or not)
    changed = BooleanProperty(False)

    def on_pre_enter(self, *_: object) -> None:
        super().on_pre_enter()
        self.changed = False
        self.ask(lambda admin: admin.policy_values(), self._loaded)

    def _loaded(self, values: Any) -> None:
        self._saved = dict(values)
        self.values = {k: values.get(k) for k in (*POLICY_FIELDS, *SWITCHES)}

    @staticmethod
    def label(key: str) -> str:
        """A control's words, as kiosk/settings_table.py declares them: Chinese over English."""
        zh, en = (POLICY_FIELDS[key][:2] if key in POLICY_FIELDS else SWITCHES[key])
        return f"{zh}\n{en}"

    def switched(self, key: str, values: dict[str, Any]) -> bool:
        return bool(values.get(key))

    def text(self, key: str, values: dict[str, Any]) -> str:
        return policy_text(key, values.get(key)) if key in values else "…"

    def step(self, key: str, steps: int) -> None:
        value = self.values.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.values[key] = stepped(key, float(value), steps)
            self.changed = True

    def toggle(self, key: str) -> None:
        if key in self.values:
            self.values[key] = not self.values[key]
            self.changed = True

    def save(self) -> None:
        changes = {k: v for k, v in self.values.items() if v != getattr(self, "_saved", {}).get(k)}
        if changes:
            self.ask(lambda admin: admin.set_policy(**changes), self._saved_now)

    def _saved_now(self, result: Any) -> None:
        if result.ok:
            self._saved.update(self.values)
            self.changed = False


class FieldRow(BoxLayout):  # type: ignore[misc]
    """One field of the registration form (admin.kv lays it out): its key, its words, a big input."""

    key = StringProperty("")
    label = StringProperty("")


class RegisterScreen(AdminBase):
    """A person without a code: the site's fields and a temperature, in big text inputs. A temperature the
    Admin refuses is marked at its field, with the Admin's words, until it is changed."""

    fields = ListProperty([])
    temperature_problem = StringProperty("")

    def on_kv_post(self, *_: object) -> None:
        self.ids.temperature.bind(text=lambda *_: setattr(self, "temperature_problem", ""))
        self._kv_rows = list(self.ids.form.children)  # ids are weak: kept alive through clear_widgets below

    def on_pre_enter(self, *_: object) -> None:
        super().on_pre_enter()
        admin = App.get_running_app().admin
        wanted = list(admin.manual_fields) if admin is not None else []
        if wanted != self.fields:
            self.fields = wanted
            box, temperature = self.ids.form, self.ids.temperature_row
            box.clear_widgets()
            for key in wanted:
                box.add_widget(FieldRow(key=key, label=field_label(key)))
            box.add_widget(temperature)  # last, under the site's fields
            box.add_widget(self.ids.temperature_problem)
        self.clear()

    def inputs(self) -> dict[str, Any]:
        return {row.key: row.ids.value for row in self.ids.form.children if isinstance(row, FieldRow)}

    def clear(self) -> None:
        for widget in self.inputs().values():
            widget.text = ""
        self.ids.temperature.text = ""
        self.temperature_problem = ""

    def save(self) -> None:
        values = {key: widget.text.strip() for key, widget in self.inputs().items()}
        raw = self.ids.temperature.text.strip().replace(",", ".")
        try:
            temperature = float(raw) if raw else None
        except ValueError:
            self.temperature_problem = "体温格式不对，例如 36.5\ntemperature: a number such as 36.5"
            self.say(self.temperature_problem, "alarm")
            return
        self.ask(lambda admin: admin.register(values, temperature), self._registered)

    def _registered(self, result: Any) -> None:
        if result.ok:
            self.clear()
        elif result.field == "temperature":  # said once, at the field; the message only points there
            self.temperature_problem = f"{result.zh}\n{result.en}"
            self.say("未登记：请看体温一栏\nnot registered: see the temperature", "alarm")
