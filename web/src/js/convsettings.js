// Per-conversation settings: the panel shows the open conversation's model, instructions and temperature
// and saves edits to it (PATCH, debounced); a new chat shows the user's defaults, which it is created with.
import { api } from "./api.js";

const SAVE_AFTER_MS = 400;

export class ConversationSettings {
  constructor(state, settings, { scope, makeDefault, notice }) {
    this.state = state;
    this.settings = settings;
    this.scope = scope;
    this.notice = notice;
    this.pending = null; // {id, changes}
    this.timer = null;

    state.on("conversation-loaded", (conv) => {
      if (conv?.id !== state.conversationId) return;
      settings.show({ instructions: conv.instructions, temperature: conv.temperature }, conv.model);
      this.caption();
    });
    state.on("conversation", (id) => {
      if (this.pending && this.pending.id !== id) this.flush();
      if (!id) settings.showDefaults();
      this.caption();
    });
    state.on("settings-edited", (changes) => {
      if (state.conversationId) this.queue(state.conversationId, changes);
    });
    makeDefault.addEventListener("click", () => {
      settings.saveAsDefaults();
      this.notice(null);
      makeDefault.textContent = "Saved as your defaults";
      setTimeout(() => (makeDefault.textContent = "Make these my defaults"), 1500);
    });
    this.makeDefault = makeDefault;
    this.caption();
  }

  caption() {
    const inConversation = Boolean(this.state.conversationId);
    this.scope.textContent = inConversation
      ? "Model, instructions and temperature are saved with this conversation. New chats start from your defaults."
      : "Your defaults: new chats start with these.";
    this.makeDefault.hidden = !inConversation;
  }

  queue(id, changes) {
    if (this.pending && this.pending.id !== id) this.flush();
    this.pending = { id, changes: { ...(this.pending?.changes ?? {}), ...changes } };
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), SAVE_AFTER_MS);
  }

  async flush() {
    clearTimeout(this.timer);
    const pending = this.pending;
    this.pending = null;
    if (!pending) return;
    try {
      await api.updateConversation(pending.id, pending.changes);
    } catch (err) {
      if (err.status !== 404) this.notice(`The conversation's settings were not saved: ${err.message}`);
    }
  }
}
