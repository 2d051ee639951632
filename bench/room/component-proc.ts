// The component in a process of its own, for the room benchmark: its CPU time
// and memory are then its own. Started by bench/room/component.ts with
// child_process.fork (IPC channel); the configuration comes as JSON in
// BENCH_COMPONENT_CONFIG.
//
//   parent -> child: { type: "mem" | "cpu" | "stop", id }
//   child -> parent: { type: "online", pid, multicast }, { type: "reply", id, ... }

import { startComponent } from "../../component/main.js";
import { ConfigSchema, createLogger } from "../../config/index.js";

const raw = process.env["BENCH_COMPONENT_CONFIG"];
if (raw === undefined || process.send === undefined) {
  process.stderr.write("component-proc: run through bench/room/component.ts (needs BENCH_COMPONENT_CONFIG and an IPC channel)\n");
  process.exit(2);
}
const config = ConfigSchema.parse(JSON.parse(raw));
const send = (m: unknown) => process.send!(m);

const component = await startComponent(config, { logger: createLogger(config.log, { destination: process.stderr }) });
await component.connection.waitOnline(30_000);
// With a multicast service configured, the benchmark starts once the component knows whether it works.
for (let i = 0; i < 500 && (component.multicast?.state === "probing" || component.multicast?.state === "unknown"); i++) {
  await new Promise((r) => setTimeout(r, 10));
}
send({ type: "online", pid: process.pid, multicast: component.multicast?.state ?? "off" });

const gc = (globalThis as { gc?: () => void }).gc;

process.on("message", (m: { type: string; id: number }) => {
  void (async () => {
    switch (m.type) {
      case "mem": {
        if (gc) {
          // Several passes: weak references and finalizers need more than one.
          for (let i = 0; i < 3; i++) {
            gc();
            await new Promise((r) => setImmediate(r));
          }
        }
        const u = process.memoryUsage();
        send({
          type: "reply",
          id: m.id,
          gc: gc !== undefined,
          rss: u.rss,
          heapUsed: u.heapUsed,
          heapTotal: u.heapTotal,
          external: u.external,
          arrayBuffers: u.arrayBuffers,
          cachedMlsRooms: component.service.ds?.cachedRooms ?? 0,
          cachedRooms: component.service.host.loadedRooms.length,
        });
        break;
      }
      case "cpu": {
        const c = process.cpuUsage();
        send({ type: "reply", id: m.id, user: c.user, system: c.system });
        break;
      }
      case "stop": {
        await component.stop();
        send({ type: "reply", id: m.id });
        process.exit(0);
      }
    }
  })();
});
process.on("disconnect", () => {
  void component.stop().finally(() => process.exit(0));
});
