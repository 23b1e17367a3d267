// localStorage that never throws (private mode, disabled storage, quota): preferences are best-effort.

const PREFIX = "rillchat.";

export function load(key, fallback = null) {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

export function save(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    /* preferences are optional */
  }
}

// Secrets (the API key) live for the browser session only: sessionStorage, same prefix, same care.
export function loadSecret(key) {
  try {
    return sessionStorage.getItem(PREFIX + key);
  } catch {
    return null;
  }
}

export function saveSecret(key, value) {
  try {
    if (!value) sessionStorage.removeItem(PREFIX + key);
    else sessionStorage.setItem(PREFIX + key, value);
  } catch {
    /* without storage the key is asked for again */
  }
}
