/** How leaves name devices (docs/protocol.md §4.2): credential identity = bare JID, application_id = device id. */
import { ExtensionType, findExtension, type LeafNode } from "../../mls/index.js";

const DEVICE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

export interface DeviceRef {
  readonly bareJid: string;
  readonly deviceId: string;
}

export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID.test(id);
}

export function deviceKey(d: DeviceRef): string {
  return `${d.bareJid}\u0000${d.deviceId}`;
}

/** The device a leaf belongs to, or undefined when the leaf does not follow §4.2. */
export function deviceOfLeaf(leaf: LeafNode): DeviceRef | undefined {
  if (leaf.credential.type !== "basic") return undefined;
  const app = findExtension(leaf.extensions, ExtensionType.application_id);
  if (app === undefined) return undefined;
  try {
    const bareJid = decoder.decode(leaf.credential.identity);
    const deviceId = decoder.decode(app.extensionData);
    if (!isValidDeviceId(deviceId) || bareJid.length === 0 || bareJid.includes("/")) return undefined;
    return { bareJid, deviceId };
  } catch {
    return undefined;
  }
}

export function applicationIdExtension(deviceId: string): { extensionType: number; extensionData: Uint8Array } {
  return { extensionType: ExtensionType.application_id, extensionData: encoder.encode(deviceId) };
}

export function identityBytes(bareJid: string): Uint8Array {
  return encoder.encode(bareJid);
}
