// The operator's HTTP endpoint (config http.listen): GET /health and GET
// /metrics (Prometheus text format, via prom-client). Nothing secret is
// exposed: counts and states only.

import { createServer, type Server } from "node:http";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

export interface Metrics {
  readonly registry: Registry;
  readonly connected: Gauge;
  readonly stanzas: Counter<"kind">;
  readonly accepted: Counter<"kind">;
  readonly refused: Counter<"condition">;
  readonly fanout: Counter;
  readonly roomsCached: Gauge;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "xmb_process_" });
  const m: Metrics = {
    registry,
    connected: new Gauge({ name: "xmb_connected", help: "1 when the component is connected to the XMPP server", registers: [registry] }),
    stanzas: new Counter({ name: "xmb_stanzas_total", help: "stanzas received, by kind", labelNames: ["kind"], registers: [registry] }),
    accepted: new Counter({
      name: "xmb_mls_entries_total",
      help: "room log entries accepted, by kind (proposal, commit, application)",
      labelNames: ["kind"],
      registers: [registry],
    }),
    refused: new Counter({
      name: "xmb_mls_refused_total",
      help: "MLS requests refused, by urn:xmpp:mls:0 condition",
      labelNames: ["condition"],
      registers: [registry],
    }),
    fanout: new Counter({ name: "xmb_fanout_stanzas_total", help: "stanzas sent to devices by fan-out", registers: [registry] }),
    roomsCached: new Gauge({ name: "xmb_rooms_cached", help: "room MLS states held in memory", registers: [registry] }),
  };
  return m;
}

/** Serves /health (200 when connected, 503 otherwise) and /metrics. Resolves with the bound port. */
export function serveHttp(
  listen: { host: string; port: number },
  metrics: Metrics,
  isHealthy: () => boolean,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    if (req.url === "/health") {
      const ok = isHealthy();
      res.writeHead(ok ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ status: ok ? "ok" : "disconnected" }));
      return;
    }
    if (req.url === "/metrics") {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      const addr = server.address();
      resolve({ server, port: typeof addr === "object" && addr ? addr.port : listen.port });
    });
  });
}
