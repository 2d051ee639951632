/** Options of a member's group state, and their defaults. */
import type { Credential } from "../credentials/credential.js";
import { defaultPadding, type PaddingPolicy } from "../framing/private.js";
import type { PreSharedKeyID } from "../messages/psk-id.js";
import type { CredentialValidator } from "../tree/leaf-validation.js";

export interface GroupOptions {
  /**
   * Wire format of handshake messages this member sends. "public" (default) lets a
   * Delivery Service validate proposals and commits (§6); "private" hides them.
   */
  readonly handshakeWireFormat?: "public" | "private";
  /** Padding of PrivateMessages (§6.3.1); default: to a multiple of 32 bytes. */
  readonly padding?: PaddingPolicy;
  /** Past epochs whose keys are kept for late application messages (default 2). */
  readonly maxPastEpochs?: number;
  /** Out-of-order window per sender ratchet (default 1000 generations). */
  readonly maxForwardDistance?: number;
  /** Unused keys retained per sender ratchet for late messages (default 128). */
  readonly maxRetainedKeys?: number;
  /** Resumption PSKs of past epochs kept for PSK proposals (default 8). */
  readonly maxResumptionPsks?: number;
  /** Include the ratchet_tree extension in the GroupInfo of Welcomes (default true). */
  readonly ratchetTreeInWelcome?: boolean;
  /** Application hook: is this credential acceptable for this signature key (§5.3.1)? Default: yes. */
  readonly credentialValidator?: CredentialValidator;
  /** Application hook: do two credentials name the same client (external-commit resync, §12.2)? */
  readonly sameClient?: (a: Credential, b: Credential) => boolean;
  /** PSK lookup: external PSKs, and resumption PSKs of other groups (branch, reinit). */
  readonly resolvePsk?: (id: PreSharedKeyID) => Uint8Array | undefined;
  /** Current time in seconds since the epoch (default: the system clock). */
  readonly now?: () => bigint;
  /** Also check lifetimes of leaves received from others (RECOMMENDED, not required, §7.3). Default false. */
  readonly checkReceivedLifetimes?: boolean;
  /** Allow sending application data while proposals are pending (§12.4 says commit first). Default false. */
  readonly allowSendWithPendingProposals?: boolean;
}

export type ResolvedGroupOptions = Required<Omit<GroupOptions, "credentialValidator" | "sameClient" | "resolvePsk">> &
  Pick<GroupOptions, "credentialValidator" | "sameClient" | "resolvePsk">;

export function resolveOptions(o: GroupOptions = {}): ResolvedGroupOptions {
  return {
    handshakeWireFormat: o.handshakeWireFormat ?? "public",
    padding: o.padding ?? defaultPadding,
    maxPastEpochs: o.maxPastEpochs ?? 2,
    maxForwardDistance: o.maxForwardDistance ?? 1000,
    maxRetainedKeys: o.maxRetainedKeys ?? 128,
    maxResumptionPsks: o.maxResumptionPsks ?? 8,
    ratchetTreeInWelcome: o.ratchetTreeInWelcome ?? true,
    now: o.now ?? (() => BigInt(Math.floor(Date.now() / 1000))),
    checkReceivedLifetimes: o.checkReceivedLifetimes ?? false,
    allowSendWithPendingProposals: o.allowSendWithPendingProposals ?? false,
    credentialValidator: o.credentialValidator,
    sameClient: o.sameClient,
    resolvePsk: o.resolvePsk,
  };
}
