// Reconnect delays: exponential backoff with jitter.
//
// Attempt n (0 = the first retry) waits a delay drawn uniformly from
// [cap/2, cap] where cap = min(max, initial * 2^n) ("equal jitter"): the
// delay still grows, and many components restarted together do not hammer
// the server in lockstep.

export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
}

/** The delay before retry number `attempt` (0-based); `random` returns [0, 1). */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const initial = Math.max(1, options.initialDelayMs);
  const max = Math.max(initial, options.maxDelayMs);
  // 2^attempt overflows to Infinity long after it passes any sane max; clamp the exponent.
  const cap = Math.min(max, initial * 2 ** Math.min(Math.max(0, attempt), 52));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(cap / 2 + (cap / 2) * r);
}
