// Leaving no Prosody behind, however the test process ends.
//
//  - normal end or process.exit(): an 'exit' hook kills every live instance
//    synchronously and removes its temp dir;
//  - SIGINT/SIGTERM/SIGHUP: the same, then the signal's default action when no
//    one else listens for it;
//  - the test process killed outright (SIGKILL, OOM, crash): a watchdog shell,
//    started per instance in its own process group, waits for EOF on a pipe
//    from us. The kernel closes the pipe when we die, and the watchdog then
//    kills the Prosody processes named in the pid files (checking their
//    command line first, so a reused pid is left alone) and removes the dir.

import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";

export interface SyncCleanup {
  /** Must not throw and must not wait for anything asynchronous. */
  cleanupSync(): void;
}

const live = new Set<SyncCleanup>();
let hooksInstalled = false;

/** Registers an instance for cleanup at exit; returns the function that unregisters it. */
export function trackForCleanup(item: SyncCleanup): () => void {
  installHooks();
  live.add(item);
  return () => void live.delete(item);
}

function cleanupAll(): void {
  for (const item of [...live]) {
    live.delete(item);
    try {
      item.cleanupSync();
    } catch {
      // Best effort: keep going with the others.
    }
  }
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", cleanupAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      cleanupAll();
      process.removeListener(signal, onSignal);
      // Nobody else handles it: re-raise for the default action (terminate).
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

const WATCHDOG_SCRIPT = `
dir=$1; mark=$2; shift 2
while read -r _; do :; done
for f in "$@"; do
  [ -f "$f" ] || continue
  pid=$(cat "$f" 2>/dev/null)
  case "$pid" in ''|*[!0-9]*) continue;; esac
  if tr '\\000' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$mark"; then
    kill -KILL "$pid" 2>/dev/null
  fi
done
rm -rf -- "$dir"
`;

/**
 * Starts the watchdog for one instance. `pidFiles` are read when it fires, in
 * order (Prosody's own pid file first, then the runuser wrapper's); a pid is
 * killed only if its command line contains `marker` (the config file path).
 * Call `disarm()` on a normal stop.
 */
export function startWatchdog(dir: string, marker: string, pidFiles: readonly string[]): { disarm(): void } {
  const child: ChildProcess = spawn("sh", ["-c", WATCHDOG_SCRIPT, "xmb-prosody-watchdog", dir, marker, ...pidFiles], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.on("error", () => {
    // No sh: the exit hooks still cover the common cases.
  });
  child.unref();
  (child.stdin as unknown as Socket | null)?.unref();
  return {
    disarm() {
      if (child.pid === undefined || child.exitCode !== null) return;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
      child.stdin?.destroy();
    },
  };
}
