/**
 * Child process running the ts-mls side of one (size, shape) scenario, so the
 * parent can stop it when an operation takes too long and so its memory figure
 * is not disturbed by the parent's heap. Protocol (IPC, advanced serialization):
 *   parent -> child: { warm?: ScenarioInput, input: ScenarioInput }
 *   child -> parent: { type: "started", op } | { type: "row", row } | { type: "done", setupMs } | { type: "error", message }
 */
import { runScenario, type ScenarioInput } from "./scenario.js";
import { tsContext, tsImpl } from "./tsmls.js";

process.once("message", (m: { warm?: ScenarioInput; input: ScenarioInput }) => {
  void (async () => {
    try {
      const impl = tsImpl(await tsContext());
      // A small group first, unreported: the JIT warms up on every code path.
      if (m.warm) await runScenario(impl, m.warm, () => {});
      const art = await runScenario(
        impl,
        m.input,
        (row) => process.send!({ type: "row", row }),
        (op) => process.send!({ type: "started", op }),
      );
      process.send!({ type: "done", setupMs: art.setupMs }, () => process.exit(0));
    } catch (e) {
      process.send!({ type: "error", message: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) }, () => process.exit(1));
    }
  })();
});
