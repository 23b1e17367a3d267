// "Your data" in the settings panel: export this conversation or all of them (JSON to re-import, Markdown
// to read), and import a rillchat export or ChatGPT's conversations.json.
import { api, errorFrom } from "./api.js";
import { h } from "./dom.js";

function filenameOf(response, fallback) {
  const m = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "");
  return m ? m[1] : fallback;
}

export class Transfer {
  constructor(state, panel, { conversations, announce }) {
    this.state = state;
    this.conversations = conversations;
    this.announce = announce;
    this.status = panel.querySelector("[data-testid=data-status]");
    this.one = panel.querySelector("[data-testid=export-one]");
    for (const button of panel.querySelectorAll("[data-export]")) {
      button.addEventListener("click", () => {
        const [scope, format] = button.dataset.export.split(":");
        this.download(scope === "one" ? state.conversationId : null, format);
      });
    }
    const file = panel.querySelector("[data-testid=import-file]");
    panel.querySelector("[data-testid=import-button]").addEventListener("click", () => file.click());
    file.addEventListener("change", async () => {
      const chosen = file.files?.[0];
      file.value = "";
      if (chosen) await this.upload(chosen);
    });
    state.on("conversation", (id) => (this.one.hidden = !id));
    this.one.hidden = !state.conversationId;
  }

  say(text, { error = false } = {}) {
    this.status.textContent = text;
    this.status.hidden = !text;
    this.status.classList.toggle("field-error", error);
    if (text) this.announce(text);
  }

  async download(id, format) {
    this.say("Preparing the export…");
    try {
      const response = await api.exportConversations(id, format);
      if (!response.ok) throw await errorFrom(response);
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: filenameOf(response, `rillchat.${format === "json" ? "json" : "md"}`), hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      this.say(`Exported ${id ? "this conversation" : "all conversations"} (${format === "json" ? "JSON" : "Markdown"}).`);
    } catch (err) {
      this.say(`Export failed: ${err.message}`, { error: true });
    }
  }

  async upload(file) {
    this.say(`Importing ${file.name}…`);
    try {
      const result = await api.importConversations(file);
      const n = result?.imported ?? 0;
      this.say(`Imported ${n} conversation${n === 1 ? "" : "s"} from ${file.name}.`);
      await this.conversations.refresh();
    } catch (err) {
      this.say(`Import failed, nothing was imported: ${err.message}`, { error: true });
    }
  }
}
