// Service and room discovery (§5): the serviceinfo and roominfo forms.

import type { Element } from "@xmpp/xml";

import { ClientError } from "./errors.js";
import { NS } from "./ns.js";
import type { RoomKind } from "./store.js";
import { formFields, fromBase64 } from "./xml.js";

export interface ServiceInfo {
  readonly domain: string;
  readonly cipherSuite: number;
  readonly externalSenderKey: Uint8Array;
  readonly maxKeyPackages: number;
  readonly maxKeyPackageBytes: number;
  /** Seconds. */
  readonly maxKeyPackageLifetime: number;
  readonly keyPackageLowWater: number;
  readonly maxStanzaBytes: number;
  readonly maxMessageBytes: number;
  readonly maxEpochLag: number;
  readonly occupancyGrace: number;
  readonly maxCatchUp: number;
  readonly retention: number;
}

/** The defaults of §7.7, used for fields a service leaves out. */
export const SERVICE_DEFAULTS = {
  maxKeyPackages: 100,
  maxKeyPackageBytes: 4096,
  maxKeyPackageLifetime: 7_776_000,
  keyPackageLowWater: 10,
  maxStanzaBytes: 262_144,
  maxMessageBytes: 131_072,
  maxEpochLag: 2,
  occupancyGrace: 60,
  maxCatchUp: 500,
  retention: 2_592_000,
} as const;

function num(fields: Map<string, string[]>, name: string, fallback: number): number {
  const v = fields.get(name)?.[0];
  if (v === undefined || !/^[0-9]+$/.test(v)) return fallback;
  return Number(v);
}

/** Parses a disco#info result of the service (§5.1). */
export function parseServiceInfo(query: Element, domain: string): ServiceInfo {
  const features = new Set(query.getChildren("feature").map((f) => f.attrs["var"]));
  if (!features.has(NS.MLS)) throw new ClientError("protocol", `${domain} does not advertise ${NS.MLS}`);
  const f = formFields(query, NS.MLS_SERVICEINFO);
  if (!f) throw new ClientError("protocol", `${domain}: no ${NS.MLS_SERVICEINFO} form in disco#info`);
  const key = f.get("external-sender-key")?.[0];
  if (key === undefined) throw new ClientError("protocol", `${domain}: serviceinfo without external-sender-key`);
  return {
    domain,
    cipherSuite: num(f, "cipher-suite", 1),
    externalSenderKey: fromBase64(key, "external-sender-key"),
    maxKeyPackages: num(f, "max-key-packages", SERVICE_DEFAULTS.maxKeyPackages),
    maxKeyPackageBytes: num(f, "max-key-package-bytes", SERVICE_DEFAULTS.maxKeyPackageBytes),
    maxKeyPackageLifetime: num(f, "max-key-package-lifetime", SERVICE_DEFAULTS.maxKeyPackageLifetime),
    keyPackageLowWater: num(f, "key-package-low-water", SERVICE_DEFAULTS.keyPackageLowWater),
    maxStanzaBytes: num(f, "max-stanza-bytes", SERVICE_DEFAULTS.maxStanzaBytes),
    maxMessageBytes: num(f, "max-message-bytes", SERVICE_DEFAULTS.maxMessageBytes),
    maxEpochLag: num(f, "max-epoch-lag", SERVICE_DEFAULTS.maxEpochLag),
    occupancyGrace: num(f, "occupancy-grace", SERVICE_DEFAULTS.occupancyGrace),
    maxCatchUp: num(f, "max-catch-up", SERVICE_DEFAULTS.maxCatchUp),
    retention: num(f, "retention", SERVICE_DEFAULTS.retention),
  };
}

export interface RoomInfo {
  readonly kind: RoomKind;
  readonly cipherSuite: number | undefined;
  /** Base64 group id; undefined while unbound. */
  readonly groupId: string | undefined;
  readonly epoch: number | undefined;
  readonly externalSenderKey: Uint8Array | undefined;
}

/** Parses a room's disco#info (§5.2). */
export function parseRoomInfo(query: Element, room: string): RoomInfo {
  const features = new Set(query.getChildren("feature").map((f) => f.attrs["var"]));
  const f = formFields(query, NS.MLS_ROOMINFO);
  if (!features.has(NS.MLS) && !f) throw new ClientError("protocol", `${room} is not an MLS room`);
  const kindField = f?.get("kind")?.[0];
  const kind: RoomKind =
    kindField === "group" || kindField === "channel" ? kindField : features.has("muc_membersonly") ? "group" : "channel";
  const key = f?.get("external-sender-key")?.[0];
  const epoch = f?.get("epoch")?.[0];
  const suite = f?.get("cipher-suite")?.[0];
  return {
    kind,
    cipherSuite: suite === undefined ? undefined : Number(suite),
    groupId: f?.get("group-id")?.[0],
    epoch: epoch === undefined ? undefined : Number(epoch),
    externalSenderKey: key === undefined ? undefined : fromBase64(key, "external-sender-key"),
  };
}
