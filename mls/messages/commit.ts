/** Commit and ProposalOrRef (RFC 9420 §12.4). */
import { enumCodec } from "../codec/enum.js";
import type { Reader } from "../codec/reader.js";
import type { Writer } from "../codec/writer.js";
import { decodeProposal, encodeProposal, type Proposal } from "./proposal.js";
import { decodeUpdatePath, encodeUpdatePath, type UpdatePath } from "./update-path.js";

export const ProposalOrRefType = { proposal: 1, reference: 2 } as const;
const proposalOrRefTypes = enumCodec("ProposalOrRefType", ProposalOrRefType);

export type ProposalOrRef =
  | { readonly type: "proposal"; readonly proposal: Proposal }
  | { readonly type: "reference"; readonly reference: Uint8Array };

export interface Commit {
  readonly proposals: readonly ProposalOrRef[];
  readonly path?: UpdatePath | undefined;
}

export function encodeProposalOrRef(w: Writer, p: ProposalOrRef): void {
  w.u8(ProposalOrRefType[p.type]);
  if (p.type === "proposal") encodeProposal(w, p.proposal);
  else w.opaque(p.reference);
}

export function decodeProposalOrRef(r: Reader): ProposalOrRef {
  const type = proposalOrRefTypes.fromWire(r.u8());
  return type === "proposal" ? { type, proposal: decodeProposal(r) } : { type, reference: r.opaque() };
}

export function encodeCommit(w: Writer, c: Commit): void {
  w.vector(c.proposals, encodeProposalOrRef);
  w.optional(c.path, encodeUpdatePath);
}

export function decodeCommit(r: Reader): Commit {
  const proposals = r.vector(decodeProposalOrRef);
  const path = r.optional(decodeUpdatePath);
  return path === undefined ? { proposals } : { proposals, path };
}
