// The conversation list: loading, paging, rename, delete, and keeping the current one on top.
import { api } from "./api.js";

export class Conversations {
  constructor(state) {
    this.state = state;
    this.available = true;
  }

  changed() {
    this.state.emit("conversations", this.state.conversations);
  }

  async refresh() {
    try {
      const page = await api.listConversations({ limit: 50 });
      const current = this.state.conversations.find((c) => c.id === this.state.conversationId);
      this.state.conversations = page?.data ?? [];
      this.state.nextCursor = page?.nextCursor ?? null;
      // The open conversation stays listed even when it is older than the first page.
      if (current && this.state.nextCursor && !this.state.conversations.some((c) => c.id === current.id)) {
        this.update(current);
        return;
      }
    } catch (err) {
      if ([404, 405, 501].includes(err.status)) this.available = false;
      if (err.status !== 401) this.state.emit("notice", this.available ? `Could not load conversations: ${err.message}` : null);
      this.state.conversations = [];
      this.state.nextCursor = null;
    }
    this.changed();
  }

  async loadMore() {
    const cursor = this.state.nextCursor;
    if (!cursor) return;
    const page = await api.listConversations({ limit: 50, cursor });
    const known = new Set(this.state.conversations.map((c) => c.id));
    this.state.conversations.push(...(page?.data ?? []).filter((c) => !known.has(c.id)));
    this.state.nextCursor = page?.nextCursor ?? null;
    this.changed();
  }

  add(conv) {
    this.state.conversations = [conv, ...this.state.conversations.filter((c) => c.id !== conv.id)];
    this.changed();
  }

  /**
   * A conversation just read from the server: its title and status replace the listed ones; one that is
   * not listed (older than the pages loaded so far) is added where its date puts it, so the current
   * conversation is always in the list.
   */
  update(conv) {
    const list = this.state.conversations;
    const item = list.find((c) => c.id === conv.id);
    const { messages, ...fields } = conv;
    if (!item) {
      const at = list.findIndex((c) => (c.updatedAt ?? "") < (conv.updatedAt ?? ""));
      list.splice(at < 0 ? list.length : at, 0, fields);
      this.changed();
      return;
    }
    let changed = false;
    for (const key of ["title", "runningReplyId"]) {
      if (key in fields && fields[key] !== undefined && item[key] !== fields[key]) {
        item[key] = fields[key];
        changed = true;
      }
    }
    if (changed) this.changed();
  }

  /** Moves a conversation to the top (it just got a message). */
  touch(id) {
    const list = this.state.conversations;
    const i = list.findIndex((c) => c.id === id);
    if (i <= 0) return;
    const [conv] = list.splice(i, 1);
    conv.updatedAt = new Date().toISOString();
    list.unshift(conv);
    this.changed();
  }

  forget(id) {
    this.state.conversations = this.state.conversations.filter((c) => c.id !== id);
    this.changed();
  }

  async rename(id, title) {
    const updated = await api.renameConversation(id, title);
    const item = this.state.conversations.find((c) => c.id === id);
    if (item) item.title = updated?.title ?? title;
    this.changed();
  }

  async remove(id) {
    await api.deleteConversation(id);
    this.forget(id);
  }
}
