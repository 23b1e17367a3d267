// Follows the growing reply, unless the user scrolls up; then "Jump to latest" appears.

const NEAR_PX = 32;

export class Scroller {
  constructor(el, content, jumpButton) {
    this.el = el;
    this.jump = jumpButton;
    this.following = true;
    this.lastTop = el.scrollTop;
    el.addEventListener("scroll", () => this.onScroll(), { passive: true });
    // Intent to go up is known before the scroll happens: stop following at once, or the next frame
    // of a fast reply would pull the view back down.
    el.addEventListener("wheel", (e) => {
      if (e.deltaY < 0) this.unfollow();
    }, { passive: true });
    let touchY = null;
    el.addEventListener("touchstart", (e) => {
      touchY = e.touches[0]?.clientY ?? null;
    }, { passive: true });
    el.addEventListener("touchmove", (e) => {
      const y = e.touches[0]?.clientY;
      if (touchY !== null && y > touchY + 4) this.unfollow();
      touchY = y;
    }, { passive: true });
    el.addEventListener("keydown", (e) => {
      if (["PageUp", "ArrowUp", "Home"].includes(e.key)) this.unfollow();
    });
    jumpButton.addEventListener("click", () => {
      this.following = true;
      this.stick();
      this.update();
    });
    // Any growth of the content (text, progress line, status) keeps the bottom in view when following.
    new ResizeObserver(() => this.stick()).observe(content);
    new ResizeObserver(() => this.stick()).observe(el);
  }

  distance() {
    return this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight;
  }

  unfollow() {
    if (this.distance() <= 1 && this.el.scrollTop <= 0) return; // nothing to scroll
    this.following = false;
    this.update();
  }

  onScroll() {
    const top = this.el.scrollTop;
    const dist = this.distance();
    if (top < this.lastTop - 1 && dist > NEAR_PX) this.following = false;
    else if (dist <= NEAR_PX) this.following = true;
    this.lastTop = top;
    this.update();
  }

  /** Scrolls to the bottom if following. */
  stick() {
    if (this.following && this.distance() > 0) {
      this.el.scrollTop = this.el.scrollHeight;
      this.lastTop = this.el.scrollTop;
    }
    this.update();
  }

  /** Stops following without the user scrolling (an edit box opened: the view must not jump away). */
  hold() {
    this.following = false;
    this.update();
  }

  /** Back to following (a new message was sent, or a conversation opened). */
  reset() {
    this.following = true;
    this.stick();
  }

  update() {
    const show = !this.following && this.distance() > NEAR_PX;
    if (this.jump.hidden === show) this.jump.hidden = !show;
  }
}
