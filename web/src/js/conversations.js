// The conversation list: loading, paging, rename, delete, and keeping the current one on top. It also
// knows which conversations have a reply running (`runningReplyId`, polled while there are any) and which
// finished one while the user was elsewhere (unseen, remembered in localStorage until opened).
import { api } from "./api.js";
import { load, save } from "./storage.js";

const POLL_MS = 2000;

export class Conversations {
  constructor(state) {
    this.state = state;
    this.available = true;
    this.unseen = new Set(load("unseen", []));
    this.pollTimer = 0;
  }

  /** The sidebar's mark for a conversation: running, finished-but-unseen, or none. */
  badge(conv) {
    if (conv.runningReplyId) return { kind: "running", label: "Generating a reply" };
    if (this.unseen.has(conv.id)) return { kind: "unseen", label: "New reply, not seen yet" };
    return null;
  }

  /** Marks a conversation running (a reply id, or true when not known yet) or not (null). */
  setRunning(id, running) {
    const item = this.state.conversations.find((c) => c.id === id);
    if (!item || Boolean(item.runningReplyId) === Boolean(running)) return;
    item.runningReplyId = running || null;
    this.changed();
    if (running) this.watchRunning();
  }

  /** The user is looking at it: no longer unseen. */
  seen(id) {
    if (this.unseen.delete(id)) {
      save("unseen", [...this.unseen]);
      this.changed();
    }
  }

  /** Polls the list while some conversation has a running reply (they run on when nobody watches). */
  watchRunning() {
    if (this.pollTimer) return;
    this.pollTimer = setTimeout(async () => {
      this.pollTimer = 0;
      await this.refresh({ quiet: true });
      if (this.state.conversations.some((c) => c.runningReplyId)) this.watchRunning();
    }, POLL_MS);
  }

  /** Replies that were running and no longer are, in conversations not open: unseen. */
  noteFinished(previous) {
    const wasRunning = new Set(previous.filter((c) => c.runningReplyId).map((c) => c.id));
    let changed = false;
    for (const c of this.state.conversations) {
      if (wasRunning.has(c.id) && !c.runningReplyId && c.id !== this.state.conversationId && !this.unseen.has(c.id)) {
        this.unseen.add(c.id);
        changed = true;
      }
    }
    if (changed) save("unseen", [...this.unseen]);
  }

  changed() {
    this.state.emit("conversations", this.state.conversations);
  }

  /** `quiet`: a background poll (no notice if it fails; the pages loaded beyond the first are kept). */
  async refresh({ quiet = false } = {}) {
    try {
      const page = await api.listConversations({ limit: 50 });
      const previous = this.state.conversations;
      const current = previous.find((c) => c.id === this.state.conversationId);
      let data = page?.data ?? [];
      if (quiet && previous.length > data.length) {
        const fresh = new Set(data.map((c) => c.id));
        data = [...data, ...previous.slice(data.length).filter((c) => !fresh.has(c.id))];
      } else {
        this.state.nextCursor = page?.nextCursor ?? null;
      }
      this.state.conversations = data;
      this.noteFinished(previous);
      if (data.some((c) => c.runningReplyId)) this.watchRunning();
      // The open conversation stays listed even when it is older than the first page.
      if (current && this.state.nextCursor && !this.state.conversations.some((c) => c.id === current.id)) {
        this.update(current);
        return;
      }
    } catch (err) {
      if (quiet) return;
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
