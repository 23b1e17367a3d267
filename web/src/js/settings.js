// Model picker (from /api/models, remembered) and the settings panel: instructions and temperature.
import { api } from "./api.js";
import { h } from "./dom.js";
import { load, loadSecret, save, saveSecret } from "./storage.js";

export class Settings {
  constructor(state, { select, toggle, panel, onKeyChanged = () => {} }) {
    this.state = state;
    this.select = select;
    this.toggle = toggle;
    this.panel = panel;
    this.instructions = panel.querySelector("[data-testid=instructions]");
    this.temperature = panel.querySelector("[data-testid=temperature]");
    this.reset = panel.querySelector("[data-testid=settings-reset]");

    const stored = load("settings", {});
    state.settings = {
      instructions: typeof stored.instructions === "string" ? stored.instructions : "",
      temperature: typeof stored.temperature === "number" ? stored.temperature : null,
    };
    this.instructions.value = state.settings.instructions;
    this.temperature.value = state.settings.temperature ?? "";

    this.instructions.addEventListener("input", () => this.store());
    this.temperature.addEventListener("input", () => this.store());
    this.reset.addEventListener("click", () => {
      this.instructions.value = "";
      this.temperature.value = "";
      this.store();
    });
    this.keyInput = panel.querySelector("[data-testid=api-key]");
    this.keyInput.value = loadSecret("apiKey") ?? "";
    panel.querySelector("[data-testid=api-key-form]").addEventListener("submit", (e) => {
      e.preventDefault();
      saveSecret("apiKey", this.keyInput.value.trim() || null);
      onKeyChanged();
    });
    toggle.addEventListener("click", () => this.open(panel.hidden));
    panel.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        this.open(false);
        toggle.focus();
      }
    });
    select.addEventListener("change", () => {
      state.model = select.value || null;
      save("model", state.model);
      state.emit("models", state.models);
    });
  }

  open(show, focus = this.instructions) {
    this.panel.hidden = !show;
    this.toggle.setAttribute("aria-expanded", String(show));
    if (show) focus.focus();
  }

  /** The server wants an API key: show the field. */
  askForKey() {
    if (this.panel.hidden) this.open(true, this.keyInput);
  }

  store() {
    const raw = this.temperature.value.trim();
    let temperature = raw === "" ? null : Number(raw);
    const valid = temperature === null || (Number.isFinite(temperature) && temperature >= 0 && temperature <= 2);
    this.temperature.setAttribute("aria-invalid", valid ? "false" : "true");
    if (!valid) temperature = this.state.settings.temperature;
    this.state.settings = { instructions: this.instructions.value, temperature };
    save("settings", this.state.settings);
    this.state.emit("settings", this.state.settings);
  }

  async loadModels() {
    const s = this.state;
    try {
      const body = await api.models();
      s.models = Array.isArray(body?.data) ? body.data : [];
    } catch {
      s.models = [];
    }
    const remembered = load("model", null);
    const fallback = s.models.find((m) => m.default) ?? s.models[0] ?? null;
    s.model = s.models.some((m) => m.id === remembered) ? remembered : fallback?.id ?? null;
    this.select.replaceChildren(
      ...(s.models.length
        ? s.models.map((m) => h("option", { value: m.id, title: m.provider ? `${m.id} (${m.provider})` : m.id }, m.id))
        : [h("option", { value: "" }, "Default model")]),
    );
    this.select.value = s.model ?? "";
    this.select.disabled = s.models.length === 0;
    s.emit("models", s.models);
  }
}
