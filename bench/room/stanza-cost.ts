// Where the MLS room's time goes in Prosody: its CPU time per stanza that an
// XEP-0114 component sends to a client (each copy of a fan-out is one such
// stanza, which Prosody parses, routes and serializes), by stanza shape, next
// to its CPU time per stanza that its own MUC delivers (parsed once, copied
// to every occupant).
//
//   node --import tsx bench/room/stanza-cost.ts [--clients 100] [--messages 200]
//
// Shapes: "device copy" is exactly what the component sends to an MLS device
// for an application message (docs/protocol.md §6.7.3: <mls/> and stanza-id);
// "<mls/> only" keeps just <mls/>; "2-char body" is a tiny message. Each is
// sent "direct" (one stanza per client) and through the XEP-0033 multicast
// service (component/prosody/mod_mls_multicast.lua: one stanza per message,
// with XEP-0033 addresses or, "compact", the module's one-JID-per-line list).

import { connectComponent, startProsody } from "../../test/integration/harness/index.js";
import { procCpuMs } from "./component.js";
import { WireClient } from "./wire.js";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg("--clients", 100);
const M = arg("--messages", 200);
const PAYLOAD = "A".repeat(384); // base64 of a ~290-byte PrivateMessage (100 bytes of text)

const prosody = await startProsody({ muc: true, multicast: true });
const names = Array.from({ length: N }, (_, i) => `s${String(i).padStart(3, "0")}`);
await prosody.createUsers(names.map((username) => ({ username, password: "pw" })));
const clients = await Promise.all(
  names.map((username) => WireClient.connect({ host: "127.0.0.1", port: prosody.c2sPort, domain: prosody.host, username, password: "pw" })),
);
let got = 0;
for (const c of clients) c.onStanza((raw) => void (raw.startsWith("<message") && got++));
const comp = await connectComponent({ service: prosody.componentService, domain: prosody.componentDomain, secret: prosody.componentSecret });
const room = `bench@${prosody.componentDomain}`;
const deviceCopy = (to: string, i: number) =>
  `<message type="groupchat" from="${room}" to="${to}" id="x${i}"><mls xmlns="urn:xmpp:mls:0" kind="application" epoch="1" seq="${i}" sender="s000">${PAYLOAD}</mls>` +
  `<stanza-id xmlns="urn:xmpp:sid:0" by="${room}" id="00000000-0000-0000-0000-${String(i).padStart(12, "0")}"/></message>`;
const mlsOnly = (to: string, i: number) =>
  `<message type="groupchat" from="${room}" to="${to}" id="x${i}"><mls xmlns="urn:xmpp:mls:0" kind="application" epoch="1" seq="${i}">${PAYLOAD}</mls></message>`;
const tiny = (to: string, i: number) => `<message type="groupchat" from="${room}" to="${to}" id="x${i}"><body>hi</body></message>`;
/** One stanza to the multicast service with every client as a recipient: XEP-0033 bcc addresses, or mod_mls_multicast's compact list (what the component sends). */
const multicast = (copy: (to: string, i: number) => string, compact = false) => (tos: readonly string[], i: number) => {
  const one = copy(MULTICAST_TO, i);
  const addresses = compact
    ? `<addresses xmlns="urn:xmpp:mls:multicast:0">${tos.join("\n")}</addresses>`
    : `<addresses xmlns="http://jabber.org/protocol/address">${tos.map((to) => `<address type="bcc" jid="${to}"/>`).join("")}</addresses>`;
  return one.slice(0, one.length - "</message>".length) + addresses + "</message>";
};
const direct = (copy: (to: string, i: number) => string) => (tos: readonly string[], i: number) => tos.map((to) => copy(to, i)).join("");
const MULTICAST_TO = prosody.multicastDomain!;
const shapes: Record<string, (tos: readonly string[], i: number) => string> = {
  "direct, device copy (§6.7.3)": direct(deviceCopy),
  "direct, <mls/> only": direct(mlsOnly),
  "direct, 2-char body": direct(tiny),
  "multicast, device copy": multicast(deviceCopy),
  "compact multicast, device copy": multicast(deviceCopy, true),
  "multicast, <mls/> only": multicast(mlsOnly),
  "multicast, 2-char body": multicast(tiny),
};
const write = (comp as unknown as { write(s: string): Promise<void> }).write.bind(comp);
const waitAll = async (n: number) => {
  while (got < n) await new Promise((r) => setTimeout(r, 5));
};

console.log(`Prosody CPU per delivered stanza, ${N} clients, ${M} messages each:`);
for (const [shape, make] of Object.entries(shapes)) {
  got = 0;
  const c0 = procCpuMs(prosody.pid);
  const t0 = performance.now();
  for (let m = 0; m < M; m++) {
    await write(make(clients.map((c) => c.jid), m)); // one write per message, like the component
  }
  await waitAll(M * N);
  const cpu = procCpuMs(prosody.pid) - c0;
  console.log(`  component -> client, ${shape.padEnd(31)} ${((cpu * 1000) / (M * N)).toFixed(0).padStart(4)} us  (${((M * N * 1000) / (performance.now() - t0)).toFixed(0)} stanzas/s)`);
}
// Prosody's own MUC: one sender, N occupants.
const muc = `cost@${prosody.mucDomain}`;
await Promise.all(
  clients.map(async (c) => {
    const self = c.next((raw) => raw.startsWith("<presence") && raw.includes(`from='${muc}/${c.options.username}'`), 30_000);
    c.send(`<presence to='${muc}/${c.options.username}'><x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x></presence>`);
    await self;
  }),
);
got = 0;
const c0 = procCpuMs(prosody.pid);
const t0 = performance.now();
for (let m = 0; m < M; m++) clients[0]!.send(`<message to='${muc}' type='groupchat' id='p${m}'><body>${PAYLOAD}</body></message>`);
await waitAll(M * N);
const cpu = procCpuMs(prosody.pid) - c0;
console.log(`  MUC, ${PAYLOAD.length}-char body                        ${((cpu * 1000) / (M * N)).toFixed(0).padStart(4)} us  (${((M * N * 1000) / (performance.now() - t0)).toFixed(0)} stanzas/s)`);

await Promise.all(clients.map((c) => c.close()));
await comp.stop();
await prosody.stop();
