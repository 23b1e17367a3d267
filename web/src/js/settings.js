// Model picker (from /api/models, remembered) and the settings panel: instructions, temperature and max
// tokens. Every field is checked as it is typed: an invalid value is refused there, with a message saying
// what is allowed, and the request keeps using the last valid value.
import { api } from "./api.js";
import { renderModelOptions } from "./modelpicker.js";
import { load, loadSecret, save, saveSecret } from "./storage.js";

const number = (n) => Number(n).toLocaleString("en-US");

/** Limits until the server says otherwise (rillchat's defaults). */
export const DEFAULT_LIMITS = { maxTextChars: 100_000, maxOutputTokens: 8192 };

/** Parses a number field: {value} (null when empty) or {error}. */
function parseNumber(input, { min, max, integer, name }) {
  const text = input.value.trim();
  const range = `${integer ? "a whole number" : "a number"} from ${number(min)} to ${number(max)}`;
  // A number field holding something that is not a number reads as "" (validity.badInput tells them apart).
  if (input.validity?.badInput) return { error: `${name} must be ${range}. Not saved: the previous value is used.` };
  if (text === "") return { value: null };
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    return { error: `${name} must be ${range}. Not saved: the previous value is used.` };
  }
  return { value };
}

const EFFORTS = ["minimal", "low", "medium", "high"];

export class Settings {
  constructor(state, { select, toggle, panel, onKeyChanged = () => {} }) {
    this.state = state;
    this.select = select;
    this.toggle = toggle;
    this.panel = panel;
    this.instructions = panel.querySelector("[data-testid=instructions]");
    this.temperature = panel.querySelector("[data-testid=temperature]");
    this.maxTokens = panel.querySelector("[data-testid=max-tokens]");
    this.reset = panel.querySelector("[data-testid=settings-reset]");
    state.limits ??= { ...DEFAULT_LIMITS };
    this.effort = panel.querySelector("[data-testid=reasoning-effort]");
    this.effortField = panel.querySelector("[data-testid=effort-field]");

    const stored = load("settings", {});
    const positiveInt = (v) => (Number.isInteger(v) && v > 0 ? v : null);
    state.settings = {
      instructions: typeof stored.instructions === "string" ? stored.instructions : "",
      temperature: typeof stored.temperature === "number" ? stored.temperature : null,
      maxOutputTokens: positiveInt(stored.maxOutputTokens),
      reasoningEffort: EFFORTS.includes(stored.reasoningEffort) ? stored.reasoningEffort : null,
    };
    this.instructions.value = state.settings.instructions;
    this.temperature.value = state.settings.temperature ?? "";
    this.maxTokens.value = state.settings.maxOutputTokens ?? "";
    this.effort.value = state.settings.reasoningEffort ?? "";
    this.effort.addEventListener("change", () => this.store());
    state.on("models", () => this.showEffort());

    for (const input of [this.instructions, this.temperature, this.maxTokens]) {
      input.addEventListener("input", () => {
        this.store();
        if (input !== this.maxTokens) this.edited();
      });
    }
    this.reset.addEventListener("click", () => {
      this.instructions.value = "";
      this.temperature.value = "";
      this.maxTokens.value = "";
      this.effort.value = "";
      this.store();
      this.edited();
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
      // In a conversation the model is the conversation's (convsettings.js saves it); else the default.
      if (state.conversationId) state.emit("settings-edited", { model: state.model });
      else save("model", state.model);
      state.emit("models", state.models);
    });
  }

  /** The user changed instructions or temperature (not a conversation switch showing its values). */
  edited() {
    const { instructions, temperature } = this.state.settings;
    this.state.emit("settings-edited", { instructions: instructions.trim() ? instructions : null, temperature });
  }

  /** Shows a conversation's settings (or the defaults) in the panel and uses them, saving nothing. */
  show({ instructions, temperature }, model) {
    this.instructions.value = instructions ?? "";
    this.temperature.value = temperature ?? "";
    this.store({ persist: false });
    this.wantedModel = model ?? null;
    this.pickModel();
  }

  showDefaults() {
    const stored = load("settings", {});
    this.show(
      { instructions: typeof stored.instructions === "string" ? stored.instructions : "", temperature: typeof stored.temperature === "number" ? stored.temperature : null },
      load("model", null),
    );
  }

  /** What is on screen now becomes the defaults new chats start from. */
  saveAsDefaults() {
    save("settings", this.state.settings);
    save("model", this.state.model);
  }

  pickModel() {
    const s = this.state;
    if (!s.models.length) return;
    const fallback = s.models.find((m) => m.default) ?? s.models[0];
    s.model = s.models.some((m) => m.id === this.wantedModel) ? this.wantedModel : fallback.id;
    this.select.value = s.model;
    s.emit("models", s.models);
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

  /** Shows (or clears) the message under a field, and marks it invalid for assistive technology. */
  showError(input, error) {
    input.setAttribute("aria-invalid", error ? "true" : "false");
    const box = this.panel.querySelector(`#${input.id}-error`);
    box.textContent = error ?? "";
    box.hidden = !error;
  }

  store({ persist = true } = {}) {
    const limits = this.state.limits;
    const previous = this.state.settings;
    const temperature = parseNumber(this.temperature, { min: 0, max: 2, integer: false, name: "Temperature" });
    const maxTokens = parseNumber(this.maxTokens, { min: 1, max: limits.maxOutputTokens, integer: true, name: "Max tokens" });
    const tooLong = this.instructions.value.length > limits.maxTextChars;
    this.showError(this.temperature, temperature.error);
    this.showError(this.maxTokens, maxTokens.error);
    this.showError(this.instructions, tooLong
      ? `The instructions are too long: at most ${number(limits.maxTextChars)} characters (now ${number(this.instructions.value.length)}). Not saved.`
      : null);
    this.state.settings = {
      instructions: tooLong ? previous.instructions : this.instructions.value,
      temperature: temperature.error ? previous.temperature : temperature.value,
      maxOutputTokens: maxTokens.error ? previous.maxOutputTokens : maxTokens.value,
      reasoningEffort: EFFORTS.includes(this.effort.value) ? this.effort.value : null,
    };
    if (persist) {
      // Outside a conversation the panel edits the defaults; inside one only max tokens stays global.
      const defaults = this.state.conversationId ? { ...load("settings", {}), maxOutputTokens: this.state.settings.maxOutputTokens } : this.state.settings;
      save("settings", defaults);
    }
    this.state.emit("settings", this.state.settings);
  }

  /** The reasoning effort setting is shown for models that take one. */
  showEffort() {
    const current = this.state.models.find((m) => m.id === this.state.model);
    this.effortField.hidden = !current?.capabilities?.reasoningEffort;
  }

  async loadModels() {
    const s = this.state;
    let upstreams = [];
    try {
      const body = await api.models();
      s.models = Array.isArray(body?.data) ? body.data : [];
      const limits = body?.limits ?? {};
      s.limits = {
        maxTextChars: Number.isInteger(limits.maxTextChars) ? limits.maxTextChars : DEFAULT_LIMITS.maxTextChars,
        maxOutputTokens: Number.isInteger(limits.maxOutputTokens) ? limits.maxOutputTokens : DEFAULT_LIMITS.maxOutputTokens,
      };
      upstreams = Array.isArray(body?.upstreams) ? body.upstreams : [];
    } catch {
      s.models = [];
    }
    this.maxTokens.max = String(s.limits.maxOutputTokens);
    this.panel.querySelector("#max-tokens-help").textContent =
      `Longest reply: 1–${number(s.limits.maxOutputTokens)} tokens; empty uses the server's default.`;
    const usable = s.models.filter((m) => m.available !== false);
    const remembered = this.wantedModel !== undefined ? this.wantedModel : load("model", null);
    const fallback = usable.find((m) => m.default) ?? usable[0] ?? null;
    s.model = usable.some((m) => m.id === remembered) ? remembered : fallback?.id ?? null;
    const any = renderModelOptions(this.select, s.models, upstreams);
    this.select.value = s.model ?? "";
    this.select.disabled = !any;
    s.emit("models", s.models);
    s.emit("limits", s.limits);
  }
}
