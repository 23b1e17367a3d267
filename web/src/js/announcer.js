// The aria-live="polite" region: status changes for screen readers (never individual tokens).

export class Announcer {
  constructor(region) {
    this.region = region;
    this.last = "";
  }

  say(message) {
    if (!message || message === this.last) return;
    this.last = message;
    // Clearing first makes screen readers announce a repeated message as new.
    this.region.textContent = "";
    requestAnimationFrame(() => {
      this.region.textContent = message;
    });
  }
}
