// Wires the app together: state, views, controller, keyboard, URL hash.
import { Announcer } from "./announcer.js";
import { onUnauthorized } from "./api.js";
import { ChatController } from "./chat.js";
import { Composer } from "./composer.js";
import { Conversations } from "./conversations.js";
import { ConversationSettings } from "./convsettings.js";
import { hydrateIcons } from "./icons.js";
import { MessageList } from "./messages.js";
import { Scroller } from "./scroll.js";
import { Search } from "./search.js";
import { Settings } from "./settings.js";
import { Sidebar } from "./sidebar.js";
import { AppState } from "./state.js";
import { load } from "./storage.js";
import { keepTimesFresh } from "./timestamps.js";
import { Transfer } from "./transfer.js";

const $ = (selector) => document.querySelector(selector);

function conversationFromHash() {
  const m = /(?:^#|&)c=([^&]+)/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

/** Scrolls to a message (a search hit) once it is drawn, and marks it for a moment. */
function revealMessage(messageId, framesLeft = 30) {
  if (!messageId) return;
  const el = document.querySelector(`#messages [data-message-id="${CSS.escape(messageId)}"]`);
  if (!el) {
    if (framesLeft > 0) requestAnimationFrame(() => revealMessage(messageId, framesLeft - 1));
    return;
  }
  el.scrollIntoView({ block: "center" });
  el.classList.add("search-target");
  setTimeout(() => el.classList.remove("search-target"), 2500);
}

function start() {
  hydrateIcons();
  const state = new AppState();
  const announcer = new Announcer($("#live"));
  const announce = (text) => announcer.say(text);

  const noticeBox = $("#notice");
  const notice = (text) => {
    noticeBox.hidden = !text;
    noticeBox.querySelector(".notice-text").textContent = text ?? "";
  };
  noticeBox.querySelector("button").addEventListener("click", () => notice(null));
  state.on("notice", notice);

  const conversations = new Conversations(state);
  let composer = null;
  const focusComposer = () => composer?.focus();
  const chat = new ChatController(state, { announce, conversations, focusComposer });

  composer = new Composer($("#composer-form"), {
    onSend: (text) => {
      if (state.busy) return false;
      notice(null);
      chat.send(text);
      return true;
    },
    onStop: () => chat.stop(),
    validate: (text) => {
      const limit = state.limits?.maxTextChars;
      if (!limit || text.length <= limit) return null;
      const n = (x) => x.toLocaleString("en-US");
      return `Your message is too long: at most ${n(limit)} characters (now ${n(text.length)}). Shorten it or split it into parts.`;
    },
  });
  state.on("limits", () => composer.changed());

  const scroller = new Scroller($("#scroller"), $("#messages"), $("[data-testid=jump-latest]"));
  new MessageList($("#messages"), $("[data-testid=empty-state]"), state, {
    retry: (key) => chat.retry(key),
    regenerate: () => chat.regenerate(),
    continueReply: (key) => chat.continueMessage(key),
    isStateless: () => chat.stateless,
    selectVersion: (message, id) => chat.selectVersion(message, id),
    editResend: (message, text) => chat.editResend(message, text),
    focusComposer,
  }, scroller);

  const settings = new Settings(state, {
    select: $("[data-testid=model-select]"),
    toggle: $("[data-testid=settings-toggle]"),
    panel: $("#settings"),
    onKeyChanged: () => {
      notice(null);
      settings.loadModels();
      conversations.refresh();
      if (state.conversationId && !state.busy) chat.reloadConversation();
      focusComposer();
    },
  });
  onUnauthorized(() => {
    notice("This server needs an API key: enter it in Settings.");
    settings.askForKey();
  });

  const sidebar = new Sidebar(state, {
    app: $(".app"),
    root: $("#sidebar"),
    list: $("#conversation-list"),
    newButton: $("[data-testid=new-conversation]"),
    moreButton: $("#load-more"),
    toggle: $("[data-testid=sidebar-toggle]"),
    scrim: $("#scrim"),
  }, {
    conversations,
    open: (id) => (id ? chat.openConversation(id) : chat.newConversation()),
    create: () => chat.newConversation(),
    notice,
    badge: (conv) => conversations.badge(conv),
  });

  // Example prompts in the empty state: one click sends it, as if typed.
  for (const button of document.querySelectorAll("[data-testid=example-prompt]")) {
    button.addEventListener("click", () => composer.sendText(button.textContent.trim()));
  }

  new ConversationSettings(state, settings, {
    scope: $("[data-testid=settings-scope]"),
    makeDefault: $("[data-testid=settings-make-default]"),
    notice,
  });
  new Transfer(state, $("#settings"), { conversations, announce });
  new Search(state, { input: $("#search-input"), results: $("#search-results"), status: $("#search-status"), nav: $("#sidebar") }, {
    open: async (id, messageId) => {
      sidebar.close();
      if (id !== state.conversationId) await chat.openConversation(id);
      revealMessage(messageId);
    },
  });
  keepTimesFresh($("#messages"));
  // Ctrl+K / ⌘K: to the search box from anywhere, showing the sidebar if it is collapsed or closed.
  document.addEventListener("keydown", (e) => {
    if (e.key.toLowerCase() !== "k" || !(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey) return;
    e.preventDefault();
    sidebar.showForSearch();
    const box = $("#search-input");
    requestAnimationFrame(() => {
      box.focus();
      box.select();
    });
  });

  $("[data-testid=header-new-chat]").addEventListener("click", () => chat.newConversation());
  // Skip links: to the list (showing the sidebar if it is hidden) and to the composer, focus included.
  $("[data-testid=skip-to-list]").addEventListener("click", (e) => {
    e.preventDefault();
    sidebar.focusList();
  });
  $("[data-testid=skip-to-composer]").addEventListener("click", (e) => {
    e.preventDefault();
    composer.focus({ force: true });
  });

  state.on("active", () => {
    composer.setBusy(state.busy);
    document.body.classList.toggle("is-busy", state.busy);
  });
  // The tab and the header show the current conversation's title. Both topics matter: on load the
  // conversation is opened before the list (with its titles) has arrived, and a rename changes only the list.
  const heading = $("[data-testid=conversation-title]");
  const updateTitle = () => {
    const conv = state.conversations.find((c) => c.id === state.conversationId);
    const title = conv?.title ? `${conv.title} · rillchat` : "rillchat";
    if (document.title !== title) document.title = title;
    const shown = conv?.title || (state.conversationId ? "" : "New chat");
    if (heading.textContent !== shown) heading.textContent = shown;
    heading.title = shown;
  };
  state.on("conversation", updateTitle);
  state.on("conversations", updateTitle);

  // Esc stops the reply (fields that use Esc themselves stop it from getting here).
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.busy && !e.defaultPrevented) {
      e.preventDefault();
      chat.stop();
    }
  });

  // Back/forward and hand-edited URLs switch conversations.
  window.addEventListener("hashchange", () => {
    const id = conversationFromHash();
    if (id !== state.conversationId) chat.openConversation(id, { push: false, fromLink: true });
  });

  window.__rillchat = Object.freeze({
    get state() {
      return state;
    },
    chat,
  });

  settings.loadModels();
  conversations.refresh();
  const linked = conversationFromHash();
  const initial = linked ?? (location.hash ? null : load("conversation", null));
  if (initial) chat.openConversation(initial, { push: false, fromLink: Boolean(linked) });
  else state.emit("messages", state.messages);
  composer.focus();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
