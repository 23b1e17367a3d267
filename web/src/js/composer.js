// The composer: a growing textarea; Enter sends, Shift+Enter is a new line; while a reply streams the
// Send button becomes Stop. A message the server would refuse (too long) is refused here, as it is typed.

const MAX_HEIGHT_PX = 200;

export class Composer {
  constructor(form, { onSend, onStop, validate = () => null }) {
    this.form = form;
    this.validate = validate;
    this.errorBox = document.getElementById("composer-error");
    this.input = form.querySelector("textarea");
    this.sendButton = form.querySelector("[data-testid=send]");
    this.stopButton = form.querySelector("[data-testid=stop]");
    this.busy = false;
    this.error = null;
    this.onSend = onSend;

    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.changed());
    this.stopButton.addEventListener("click", () => onStop());
    this.changed();
  }

  submit() {
    const text = this.input.value;
    if (this.busy || !text.trim() || this.error) return;
    if (this.onSend(text) === false) return;
    this.input.value = "";
    this.changed();
    this.focus();
  }

  /** Sends `text` as if it had been typed (an example prompt). */
  sendText(text) {
    this.input.value = text;
    this.changed();
    this.submit();
  }

  changed() {
    const error = this.validate(this.input.value);
    if (error !== this.error) {
      this.error = error;
      this.errorBox.textContent = error ?? "";
      this.errorBox.hidden = !error;
      this.input.setAttribute("aria-invalid", error ? "true" : "false");
    }
    this.sendButton.disabled = this.busy || !this.input.value.trim() || Boolean(error);
    this.autosize();
  }

  autosize() {
    const el = this.input;
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT_PX)}px`;
    el.style.overflowY = el.scrollHeight > MAX_HEIGHT_PX ? "auto" : "hidden";
  }

  setBusy(busy) {
    if (this.busy === busy) return;
    const hadFocus = this.form.contains(document.activeElement) && document.activeElement !== this.input;
    this.busy = busy;
    this.sendButton.hidden = busy;
    this.stopButton.hidden = !busy;
    this.form.classList.toggle("is-busy", busy);
    this.changed();
    if (hadFocus) this.focus(); // the clicked button just disappeared: keep focus in the composer
  }

  /** `force`: the user asked for it (a skip link), so even a touch screen mid-stream gets the keyboard. */
  focus({ force = false } = {}) {
    // Not on touch screens mid-stream: popping the keyboard up over the reply is unwelcome.
    if (!force && matchMedia("(pointer: coarse)").matches && this.busy) return;
    this.input.focus({ preventScroll: true });
  }
}
