import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

import {
  ConfigError,
  DEFAULTS,
  helpText,
  loadConfig,
  OPTIONS,
  parseCli,
  parseHostPort,
  type LoadOptions,
} from "../../config/index.js";
import { defaultText } from "../../config/options.js";

/** A fake file system for the loader: path -> contents. */
function files(map: Record<string, string>, cwd = "/srv"): LoadOptions {
  return {
    cwd,
    readFile: (f) => {
      const text = map[f];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${f}'`), { code: "ENOENT" });
      return text;
    },
  };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

const SECRET = { XMB_SECRET: "env-secret" };

describe("defaults", () => {
  it("fills every setting from the documented defaults", () => {
    const c = loadConfig([], SECRET, { cwd: "/srv" });
    expect(c).toEqual({
      demo: false,
      component: {
        domain: "mls.localhost",
        secret: "env-secret",
        server: "127.0.0.1:5347",
        reconnect: { initialDelayMs: 1000, maxDelayMs: 60_000 },
        multicast: null,
      },
      store: { path: "/srv/data/xmpp-mls-bridge.sqlite" },
      log: { level: "info", format: "json" },
      http: { listen: "127.0.0.1:9470" },
      mls: { cipherSuite: 1, keyPackageLowWater: 10, maxEpochLag: 2 },
      rooms: { defaultKind: "group", occupancyGraceSeconds: 60 },
      limits: { maxStanzaBytes: 262_144, maxMessageBytes: 131_072, maxMessagesPerCatchUp: 500, keyPackagesPerDevice: 100, retentionDays: 30 },
    });
    expect(DEFAULTS.limits.maxStanzaBytes).toBe(256 * 1024);
  });

  it("requires the secret unless demo", () => {
    const e = configError(() => loadConfig([], {}));
    expect(e.code).toBe("config_invalid");
    expect(e.message).toMatch(/^component\.secret: required/);
    expect(loadConfig(["--demo"], {}).component.secret).toBeUndefined();
    expect(loadConfig([], { XMB_DEMO: "true" }).demo).toBe(true);
  });
});

describe("layers: defaults < file < env < flags", () => {
  const fs = files({
    "/etc/xmb/config.json": JSON.stringify({
      component: { domain: "file.example.org", secret: "file-secret", server: "10.0.0.1:5347" },
      store: { path: "state/db.sqlite" },
      log: { level: "warn" },
      rooms: { defaultKind: "channel" },
    }),
  });

  it("the file overrides defaults; relative paths in it are relative to the file", () => {
    const c = loadConfig(["--config", "/etc/xmb/config.json"], {}, fs);
    expect(c.component.domain).toBe("file.example.org");
    expect(c.component.secret).toBe("file-secret");
    expect(c.component.server).toBe("10.0.0.1:5347");
    expect(c.store.path).toBe("/etc/xmb/state/db.sqlite");
    expect(c.log.level).toBe("warn");
    expect(c.rooms.defaultKind).toBe("channel");
    expect(c.rooms.occupancyGraceSeconds).toBe(60); // untouched keys keep defaults
  });

  it("XMB_CONFIG names the file when --config is absent; --config wins over it", () => {
    const more = files({
      "/etc/xmb/config.json": JSON.stringify({ component: { secret: "a", domain: "a.example" } }),
      "/srv/other.json": JSON.stringify({ component: { secret: "b", domain: "b.example" } }),
    });
    expect(loadConfig([], { XMB_CONFIG: "/etc/xmb/config.json" }, more).component.domain).toBe("a.example");
    expect(loadConfig(["-c", "other.json"], { XMB_CONFIG: "/etc/xmb/config.json" }, more).component.domain).toBe("b.example");
  });

  it("env overrides the file", () => {
    const env = { XMB_DOMAIN: "env.example.org", XMB_LOG_LEVEL: "debug", XMB_DB: "env.sqlite", XMB_CIPHER_SUITE: "3" };
    const c = loadConfig(["--config", "/etc/xmb/config.json"], env, fs);
    expect(c.component.domain).toBe("env.example.org");
    expect(c.component.secret).toBe("file-secret");
    expect(c.log.level).toBe("debug");
    expect(c.store.path).toBe("/srv/env.sqlite"); // relative to the working directory
    expect(c.mls.cipherSuite).toBe(3);
  });

  it("flags override env and file", () => {
    const env = { XMB_DOMAIN: "env.example.org", XMB_SECRET: "env-secret", XMB_HTTP_LISTEN: "0.0.0.0:9000" };
    const argv = [
      "--config", "/etc/xmb/config.json",
      "--domain", "flag.example.org",
      "--secret", "flag-secret",
      "--server", "[::1]:5348",
      "--db", "/var/lib/xmb/db.sqlite",
      "--log-level", "trace",
      "--log-format", "pretty",
      "--http-listen", "off",
    ];
    const c = loadConfig(argv, env, fs);
    expect(c.component.domain).toBe("flag.example.org");
    expect(c.component.secret).toBe("flag-secret");
    expect(c.component.server).toBe("[::1]:5348");
    expect(parseHostPort(c.component.server)).toEqual({ host: "::1", port: 5348 });
    expect(c.store.path).toBe("/var/lib/xmb/db.sqlite");
    expect(c.log).toEqual({ level: "trace", format: "pretty" });
    expect(c.http.listen).toBeNull();
  });

  it("reports where each value came from", () => {
    const r = parseCli(["--config", "/etc/xmb/config.json", "--log-level", "error"], { XMB_DOMAIN: "env.example.org" }, fs);
    if (r.action !== "run") throw new Error(r.action);
    expect(r.sources.get("component.server")).toBe("config file /etc/xmb/config.json");
    expect(r.sources.get("component.domain")).toBe("env XMB_DOMAIN");
    expect(r.sources.get("log.level")).toBe("--log-level");
    expect(r.sources.has("limits.maxStanzaBytes")).toBe(false); // default
  });

  it("every setting has an env var that reaches the config", () => {
    const values: Record<string, [string, unknown]> = {
      demo: ["yes", true],
      "component.domain": ["x.example", "x.example"],
      "component.secret": ["s", "s"],
      "component.server": ["h:1", "h:1"],
      "component.reconnect.initialDelayMs": ["20", 20],
      "component.reconnect.maxDelayMs": ["30", 30],
      "component.multicast": ["multicast.example.org", "multicast.example.org"],
      "store.path": [":memory:", ":memory:"],
      "log.level": ["error", "error"],
      "log.format": ["pretty", "pretty"],
      "http.listen": ["disabled", null],
      "mls.cipherSuite": ["2", 2],
      "mls.keyPackageLowWater": ["0", 0],
      "mls.maxEpochLag": ["3", 3],
      "rooms.defaultKind": ["channel", "channel"],
      "rooms.occupancyGraceSeconds": ["5", 5],
      "limits.maxStanzaBytes": ["2048", 2048],
      "limits.maxMessageBytes": ["4096", 4096],
      "limits.retentionDays": ["0", 0],
      "limits.maxMessagesPerCatchUp": ["7", 7],
      "limits.keyPackagesPerDevice": ["8", 8],
    };
    expect(Object.keys(values).sort()).toEqual(OPTIONS.map((o) => o.key).sort());
    const env = Object.fromEntries(OPTIONS.map((o) => [o.env, (values[o.key] as [string, unknown])[0]]));
    const c = loadConfig([], env);
    for (const o of OPTIONS) {
      const got = o.key.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], c);
      expect(got, o.env).toEqual((values[o.key] as [string, unknown])[1]);
    }
  });

  it("an empty env var counts as unset", () => {
    expect(loadConfig([], { ...SECRET, XMB_DOMAIN: "" }).component.domain).toBe("mls.localhost");
  });
});

describe("secret files", () => {
  it("--secret-file / XMB_SECRET_FILE / component.secretFile read the secret, minus the final newline", () => {
    const fs = files({
      "/run/secrets/xmb": "from-file\n",
      "/etc/xmb/s.txt": "file-relative",
      "/etc/xmb/c.json": JSON.stringify({ component: { secretFile: "s.txt" } }),
    });
    expect(loadConfig(["--secret-file", "/run/secrets/xmb"], {}, fs).component.secret).toBe("from-file");
    expect(loadConfig([], { XMB_SECRET_FILE: "/run/secrets/xmb" }, fs).component.secret).toBe("from-file");
    expect(loadConfig(["-c", "/etc/xmb/c.json"], {}, fs).component.secret).toBe("file-relative");
    // A higher layer wins, whichever form it uses.
    expect(loadConfig(["-c", "/etc/xmb/c.json"], { XMB_SECRET: "env" }, fs).component.secret).toBe("env");
    expect(loadConfig(["--secret-file", "/run/secrets/xmb"], { XMB_SECRET: "env" }, fs).component.secret).toBe("from-file");
  });

  it("both forms in one layer, or an unreadable file, are errors", () => {
    const fs = files({ "/run/secrets/xmb": "x" });
    const both = configError(() => loadConfig(["--secret", "a", "--secret-file", "/run/secrets/xmb"], {}, fs));
    expect(both.code).toBe("config_file");
    expect(both.message).toBe("component.secret: set both directly (--secret) and as a file (--secret-file); use one");
    const missing = configError(() => loadConfig([], { XMB_SECRET_FILE: "nope" }, fs));
    expect(missing.message).toMatch(/^component\.secretFile: cannot read '\/srv\/nope': ENOENT.* \(from env XMB_SECRET_FILE\)$/);
  });
});

describe("validation errors name the field, the value and its source", () => {
  it("bad host:port from a flag", () => {
    const e = configError(() => loadConfig(["--server", "x"], SECRET));
    expect(e.code).toBe("config_invalid");
    expect(e.message).toBe("component.server: expected host:port, got 'x' (from --server)");
    expect(e.problems).toEqual([{ path: "component.server", source: "--server", message: e.message }]);
  });

  it("out-of-range port, bad enum, bad number, bad boolean from env", () => {
    const e = configError(() =>
      loadConfig([], { ...SECRET, XMB_SERVER: "h:70000", XMB_LOG_LEVEL: "loud", XMB_MAX_STANZA_BYTES: "lots", XMB_DEMO: "maybe" }),
    );
    expect(e.message.split("\n").sort()).toEqual([
      "component.server: expected a port from 1 to 65535, got 'h:70000' (from env XMB_SERVER)",
      "demo: expected true or false, got 'maybe' (from env XMB_DEMO)",
      "limits.maxStanzaBytes: expected bytes, got 'lots' (from env XMB_MAX_STANZA_BYTES)",
      "log.level: expected one of fatal, error, warn, info, debug, trace, silent, got 'loud' (from env XMB_LOG_LEVEL)",
    ]);
  });

  it("bad values and unknown keys in the config file", () => {
    const fs = files({
      "/c.json": JSON.stringify({
        component: { secret: "s", domian: "typo.example", reconnect: { initialDelayMs: 5 } },
        limits: { maxStanzaBytes: 10 },
        rooms: { defaultKind: "forum" },
        http: { listen: "nowhere" },
        extra: true,
      }),
    });
    const e = configError(() => loadConfig(["-c", "/c.json"], {}, fs));
    const from = "(from config file /c.json)";
    expect(e.message.split("\n").sort()).toEqual(
      [
        `component.domian: unknown setting ${from}`,
        `component.reconnect.initialDelayMs: expected milliseconds >= 10, got 5 ${from}`,
        `extra: unknown setting ${from}`,
        `http.listen: expected host:port or off, got 'nowhere' ${from}`,
        `limits.maxStanzaBytes: expected bytes >= 1024, got 10 ${from}`,
        `rooms.defaultKind: expected one of group, channel, got 'forum' ${from}`,
      ].sort(),
    );
  });

  it("cross-field rule: reconnect max below initial", () => {
    const e = configError(() => loadConfig([], { ...SECRET, XMB_RECONNECT_INITIAL_MS: "5000", XMB_RECONNECT_MAX_MS: "1000" }));
    expect(e.message).toBe(
      "component.reconnect.maxDelayMs: must be >= component.reconnect.initialDelayMs (5000), got 1000 (from env XMB_RECONNECT_MAX_MS)",
    );
  });

  it("the multicast service is a domain, or off", () => {
    expect(loadConfig(["--multicast", "multicast.example.org"], SECRET).component.multicast).toBe("multicast.example.org");
    expect(loadConfig(["--multicast", "off"], SECRET).component.multicast).toBeNull();
    expect(configError(() => loadConfig([], { ...SECRET, XMB_MULTICAST: "x@multicast" })).message).toBe(
      "component.multicast: expected the multicast service's domain (like multicast.example.org) or off, got 'x@multicast' (from env XMB_MULTICAST)",
    );
  });

  it("domain must be a plain lowercase domain", () => {
    expect(configError(() => loadConfig(["--domain", "user@mls.example"], SECRET)).message).toBe(
      "component.domain: expected a lowercase domain name like mls.example.org, got 'user@mls.example' (from --domain)",
    );
  });

  it("config file problems: missing, not JSON, not an object", () => {
    const fs = files({ "/bad.json": "{ nope", "/arr.json": "[]" });
    const missing = configError(() => loadConfig(["-c", "/none.json"], {}, fs));
    expect(missing.code).toBe("config_file");
    expect(missing.message).toMatch(/^config file '\/none\.json' \(from --config\): cannot read: ENOENT/);
    expect(configError(() => loadConfig(["-c", "/bad.json"], {}, fs)).message).toMatch(/^config file '\/bad\.json': invalid JSON: /);
    expect(configError(() => loadConfig(["-c", "/arr.json"], {}, fs)).message).toBe(
      "config file '/arr.json': expected a JSON object at the top level",
    );
  });

  it("command-line mistakes are cli_usage errors", () => {
    const unknown = configError(() => loadConfig(["--bogus"], SECRET));
    expect(unknown.code).toBe("cli_usage");
    expect(unknown.message).toBe("unknown option '--bogus' (see --help)");
    expect(configError(() => loadConfig(["--domain"], SECRET)).message).toMatch(/argument missing/);
    expect(configError(() => loadConfig(["stray"], SECRET)).message).toMatch(/too many arguments/);
  });
});

describe("parseCli actions", () => {
  it("--print-config prints the effective config with the secret redacted", () => {
    const r = parseCli(["--print-config", "--secret", "hunter2", "--db", ":memory:"], {});
    expect(r.action).toBe("print-config");
    if (r.action !== "print-config") return;
    expect(r.text).not.toContain("hunter2");
    const printed = JSON.parse(r.text) as { component: { secret: string }; store: { path: string } };
    expect(printed.component.secret).toBe("[redacted]");
    expect(printed.store.path).toBe(":memory:");
    expect(r.config.component.secret).toBe("hunter2"); // the real value stays available to the program
  });

  it("--help and --version return text, never exit", () => {
    const help = parseCli(["--help"], {});
    expect(help.action).toBe("help");
    const version = parseCli(["--version"], {}, { version: "1.2.3" });
    expect(version).toEqual({ action: "version", text: "1.2.3\n" });
    expect(() => loadConfig(["--help"], {})).toThrow(ConfigError);
  });

  it("--help mentions every flag with its default and env var, and every env-only setting", () => {
    const r = parseCli(["--help"], {});
    if (r.action !== "help") throw new Error(r.action);
    const text = r.text.replace(/\s+/g, " ");
    expect(text).toBe(helpText().replace(/\s+/g, " "));
    for (const flag of ["--config", "--secret-file", "--print-config", "--help"]) expect(text).toContain(flag);
    for (const o of OPTIONS) {
      expect(text, o.env).toContain(o.env);
      if (o.flag) {
        expect(text).toContain(`--${o.flag}`);
        if (o.key !== "component.secret") {
          const def = defaultText(o.key);
          expect(text, o.flag).toMatch(new RegExp(`--${o.flag}\\b[^]*?default: ${def.replace(/[.]/g, "\\.")}; env: ${o.env}`));
        }
      } else {
        expect(text).toContain(o.key);
      }
    }
  });
});

describe("a real config file on disk", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "xmb-config-test-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is read with fs, relative to the file for store.path and secretFile", () => {
    writeFileSync(path.join(dir, "secret"), "disk-secret\n");
    writeFileSync(
      path.join(dir, "config.json"),
      JSON.stringify({ component: { secretFile: "secret" }, store: { path: "db.sqlite" } }),
    );
    const c = loadConfig(["--config", path.join(dir, "config.json")], {});
    expect(c.component.secret).toBe("disk-secret");
    expect(c.store.path).toBe(path.join(dir, "db.sqlite"));
  });

  it("config/example.json is valid", () => {
    const example = path.resolve(import.meta.dirname, "../../config/example.json");
    const c = loadConfig(["--config", example], { XMB_SECRET: "s" });
    expect(c.component.domain).toBe("mls.example.org");
  });
});
