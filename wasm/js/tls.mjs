// Keeps a Node `tls.Server` (or `https.Server`) on keywheel's session-ticket keys.
//
// Node takes exactly one ticket key: `server.setTicketKeys(buf)` with 48 bytes, the key name
// (16), the HMAC-SHA256 key (16) and the AES-128-CBC key (16), in that order — keywheel's
// name ‖ HMAC ‖ AES layout of 48-byte records, the one of its "apache" format, which is what
// this helper installs (`TicketKeys#render("apache")`: the current key only). The key is set
// at once, then again at every interval boundary, by a timer that does not keep the process
// alive.
//
// What one key costs: at each rotation every ticket issued before it stops resuming (one
// full handshake, then a fresh ticket), and for as long as two nodes' clocks disagree about
// the interval, tickets do not cross between them. A longer interval makes both rarer.

const TICKET_KEY_LEN = 48;

/** The 48-byte key Node's `setTicketKeys` takes for unix time `now`: name ‖ HMAC ‖ AES. */
export function nodeTicketKey(keys, now = Math.floor(Date.now() / 1000)) {
  const key = keys.current(now);
  key.aesKey.fill(0);
  key.hmacKey.fill(0);
  if (key.strength !== "aes128") {
    throw new Error(
      `Node takes 48-byte ticket keys (AES-128): make the TicketKeys with strength "aes128", not ${JSON.stringify(key.strength)}`,
    );
  }
  const record = keys.render("apache", now);
  if (record.length !== TICKET_KEY_LEN) {
    record.fill(0);
    throw new Error(`internal error: a ${record.length}-byte ticket key record`);
  }
  return record;
}

const realClock = {
  now: () => Date.now() / 1000,
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (t) => clearTimeout(t),
};

/**
 * Sets `server`'s ticket key to `keys`' current key now and at every interval boundary.
 * Returns `{ stop(), counter, nextRotation }` (`counter` and `nextRotation` describe the key
 * in use). Options: `onRotate({ counter, nextRotation })` after each change, `onError(err)`
 * for an error at a rotation (default: thrown, an uncaught exception), `clock` to replace
 * `{ now() (unix seconds), setTimeout(fn, ms), clearTimeout(handle) }` (tests).
 */
export function keepTicketKeys(server, keys, options = {}) {
  if (server === null || typeof server !== "object" || typeof server.setTicketKeys !== "function") {
    throw new TypeError("server must be a tls.Server or https.Server (it has no setTicketKeys method)");
  }
  const clock = options.clock ?? realClock;
  const onRotate = options.onRotate ?? (() => {});
  const onError =
    options.onError ??
    ((err) => {
      throw err;
    });
  const state = { counter: undefined, nextRotation: undefined, timer: undefined, stopped: false };

  const install = () => {
    const now = Math.floor(clock.now());
    const slot = keys.slot(now);
    if (slot.current !== state.counter) {
      const record = nodeTicketKey(keys, now);
      try {
        server.setTicketKeys(Buffer.from(record.buffer, record.byteOffset, record.length));
      } finally {
        record.fill(0);
      }
      state.counter = slot.current;
      state.nextRotation = slot.nextRotation;
      onRotate({ counter: slot.current, nextRotation: slot.nextRotation });
    }
    // A timer may fire a little early: the next call then finds the same counter and waits
    // again for the boundary.
    const ms = Math.max(1, Math.ceil((slot.nextRotation - clock.now()) * 1000));
    state.timer = clock.setTimeout(tick, ms);
  };
  const tick = () => {
    if (state.stopped) return;
    try {
      install();
    } catch (err) {
      state.timer = undefined;
      onError(err);
    }
  };

  install();
  return {
    stop() {
      state.stopped = true;
      if (state.timer !== undefined) clock.clearTimeout(state.timer);
      state.timer = undefined;
    },
    get counter() {
      return state.counter;
    },
    get nextRotation() {
      return state.nextRotation;
    },
  };
}
