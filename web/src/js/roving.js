// Roving tabindex for a list of rows (WAI-ARIA APG): the list is one Tab stop; Up/Down/Home/End move
// between rows, Left/Right between the controls of one row. Only the focused (or chosen) control has
// tabindex="0", so Tab leaves the list in one press instead of walking every row and its buttons.

export class RovingFocus {
  /**
   * @param {HTMLElement} root    the container (keydown is listened to here)
   * @param {object} o
   * @param {string} o.row        selector of a row
   * @param {string} o.primary    selector, inside a row, of its main control (what Up/Down land on)
   * @param {string} o.controls   selector, inside a row, of every control Left/Right walk through
   */
  constructor(root, { row, primary, controls }) {
    this.root = root;
    this.rowSelector = row;
    this.primarySelector = primary;
    this.controlsSelector = controls;
    root.addEventListener("keydown", (e) => this.onKey(e));
    // Whatever gets focus in the list (a click, a skip link) becomes the list's one Tab stop.
    root.addEventListener("focusin", (e) => {
      if (e.target.matches?.(this.controlsSelector)) this.setTabStop(e.target);
    });
  }

  rows() {
    return [...this.root.querySelectorAll(this.rowSelector)].filter((r) => r.querySelector(this.primarySelector));
  }

  /** Makes `control` the only Tab stop of the list. */
  setTabStop(control) {
    for (const el of this.root.querySelectorAll(this.controlsSelector)) el.tabIndex = el === control ? 0 : -1;
  }

  /**
   * After a re-render: keeps exactly one Tab stop, on `preferred` (a row element) if given, else on the
   * control that had it, else on the first row.
   */
  refresh(preferred = null) {
    const current = this.root.querySelector(`${this.controlsSelector}[tabindex="0"]`);
    const target = preferred?.querySelector(this.primarySelector) ?? current ?? this.rows()[0]?.querySelector(this.primarySelector);
    if (target) this.setTabStop(target);
  }

  /** The control that is the Tab stop (focus it to enter the list where the user was). */
  tabStop() {
    return this.root.querySelector(`${this.controlsSelector}[tabindex="0"]`) ?? this.rows()[0]?.querySelector(this.primarySelector) ?? null;
  }

  /** `scroll: false` when only restoring focus after a re-render (the view should not jump). */
  focus(control, { scroll = true } = {}) {
    if (!control) return;
    this.setTabStop(control);
    control.focus({ preventScroll: true });
    if (scroll) control.scrollIntoView({ block: "nearest" });
  }

  onKey(e) {
    if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const control = e.target.closest?.(this.controlsSelector);
    if (!control || !this.root.contains(control)) return;
    const row = control.closest(this.rowSelector);
    const rows = this.rows();
    const index = rows.indexOf(row);
    let next = null;
    switch (e.key) {
      case "ArrowDown":
        next = rows[Math.min(index + 1, rows.length - 1)];
        break;
      case "ArrowUp":
        next = rows[Math.max(index - 1, 0)];
        break;
      case "Home":
        next = rows[0];
        break;
      case "End":
        next = rows.at(-1);
        break;
      case "ArrowRight":
      case "ArrowLeft": {
        const controls = [...row.querySelectorAll(this.controlsSelector)];
        const i = controls.indexOf(control) + (e.key === "ArrowRight" ? 1 : -1);
        if (i >= 0 && i < controls.length) {
          e.preventDefault();
          this.focus(controls[i]);
        }
        return;
      }
      default:
        return;
    }
    e.preventDefault();
    if (next) this.focus(next.querySelector(this.primarySelector));
  }
}
