// Which MLS device each occupant session is (docs/protocol.md §6.3 binding
// rules), and, for channels, which devices left less than the grace period
// ago (§7.4.1). In memory: occupancy is not persisted.

import type { DeviceRef } from "../../mapping/ds/identity.js";
import { deviceKey } from "../../mapping/ds/identity.js";
import type { OccupancyView } from "../../mapping/ds/service.js";

interface Binding {
  readonly device: DeviceRef;
  readonly nick: string;
}

export class Occupancy implements OccupancyView {
  /** room -> full JID -> binding */
  private readonly bound = new Map<string, Map<string, Binding>>();
  /** room -> device key -> departure time (channels, grace period) */
  private readonly departed = new Map<string, Map<string, { device: DeviceRef; at: number }>>();
  /** room -> jidsByDevice(room), until the room's bindings change (every fan-out reads it). */
  private readonly byDevice = new Map<string, ReadonlyMap<string, readonly string[]>>();

  constructor(
    private readonly graceMs: number,
    private readonly now: () => number,
  ) {}

  bind(room: string, fullJid: string, device: DeviceRef, nick: string): void {
    let m = this.bound.get(room);
    if (!m) this.bound.set(room, (m = new Map()));
    // A device is bound to one full JID at a time: the newest binding wins.
    for (const [jid, b] of m) if (deviceKey(b.device) === deviceKey(device) && jid !== fullJid) m.delete(jid);
    m.set(fullJid, { device, nick });
    this.byDevice.delete(room);
    this.departed.get(room)?.delete(deviceKey(device));
  }

  /** The session left; `graceful` departures are remembered for the grace period. */
  unbind(room: string, fullJid: string, graceful: boolean): DeviceRef | undefined {
    const m = this.bound.get(room);
    const b = m?.get(fullJid);
    if (!b) return undefined;
    m!.delete(fullJid);
    this.byDevice.delete(room);
    if (m!.size === 0) this.bound.delete(room);
    if (graceful) {
      let d = this.departed.get(room);
      if (!d) this.departed.set(room, (d = new Map()));
      d.set(deviceKey(b.device), { device: b.device, at: this.now() });
    }
    return b.device;
  }

  deviceOf(room: string, fullJid: string): Binding | undefined {
    return this.bound.get(room)?.get(fullJid);
  }

  /** Full JIDs currently bound to this device in the room. */
  jidsOf(room: string, device: DeviceRef): string[] {
    const k = deviceKey(device);
    const out: string[] = [];
    for (const [jid, b] of this.bound.get(room) ?? []) if (deviceKey(b.device) === k) out.push(jid);
    return out;
  }

  /** Every bound full JID of the room, by device key (for the fan-out: one pass instead of one per device). */
  jidsByDevice(room: string): ReadonlyMap<string, readonly string[]> {
    const cached = this.byDevice.get(room);
    if (cached) return cached;
    const out = new Map<string, string[]>();
    for (const [jid, b] of this.bound.get(room) ?? []) {
      const k = deviceKey(b.device);
      const list = out.get(k);
      if (list) list.push(jid);
      else out.set(k, [jid]);
    }
    this.byDevice.set(room, out);
    return out;
  }

  /** Rooms where this device is bound. */
  roomsOf(device: DeviceRef): string[] {
    const k = deviceKey(device);
    return [...this.bound].filter(([, m]) => [...m.values()].some((b) => deviceKey(b.device) === k)).map(([r]) => r);
  }

  channelDevices(room: string): DeviceRef[] {
    const out = new Map<string, DeviceRef>();
    for (const b of this.bound.get(room)?.values() ?? []) out.set(deviceKey(b.device), b.device);
    const d = this.departed.get(room);
    if (d) {
      const cutoff = this.now() - this.graceMs;
      for (const [k, v] of d) {
        if (v.at < cutoff) d.delete(k);
        else if (!out.has(k)) out.set(k, v.device);
      }
    }
    return [...out.values()];
  }

  forgetRoom(room: string): void {
    this.bound.delete(room);
    this.byDevice.delete(room);
    this.departed.delete(room);
  }
}
