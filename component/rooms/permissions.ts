// XEP-0045's privilege tables as functions (§5.1.2, §5.2.1, §5.2.2, §8, §9, §10).

import type { Affiliation, Whois } from "../../mapping/store/index.js";
import { stanzaError, type StanzaError } from "../xmpp/stanza-error.js";
import type { Role } from "./events.js";

/** outcast < none < member < admin < owner */
export const AFFILIATION_RANK: Readonly<Record<Affiliation, number>> = { outcast: 0, none: 1, member: 2, admin: 3, owner: 4 };

/** §5.1.2 default roles in an unmoderated room: admins and owners moderate, everyone else participates. */
export function roleFor(affiliation: Affiliation): Role {
  switch (affiliation) {
    case "owner":
    case "admin":
      return "moderator";
    case "member":
    case "none":
      return "participant";
    case "outcast":
      return "none";
  }
}

/**
 * May `actor` (with `actorAffiliation`) move `target` from `from` to `to`?
 * §5.2.2 (affiliation state chart), §9.1 (ban), §10 (owners). Returns the
 * refusal, or undefined when allowed.
 *  - Any affiliated user may drop their own affiliation to "none" (leave a
 *    group room); the last-owner rule is checked over the whole request.
 *  - Admins manage members and outcasts; they cannot touch admins or owners
 *    (not-allowed) nor grant admin/owner (forbidden).
 *  - Owners may do everything, except ban themselves (conflict).
 */
export function checkAffiliationChange(
  actorAffiliation: Affiliation,
  actor: string,
  target: string,
  from: Affiliation,
  to: Affiliation,
): StanzaError | undefined {
  if (target === actor && to === "none" && from !== "outcast" && from !== "none") return undefined;
  if (actorAffiliation !== "owner" && actorAffiliation !== "admin") {
    return stanzaError("forbidden", "only owners and admins may change affiliations");
  }
  if (to === "outcast" && target === actor) return stanzaError("conflict", "you cannot ban yourself");
  if (actorAffiliation === "admin") {
    if (to === "admin" || to === "owner") return stanzaError("forbidden", "only owners may grant admin or owner status");
    if (from === "admin" || from === "owner") {
      return stanzaError("not-allowed", `an admin cannot change the affiliation of an ${from}`);
    }
  }
  return undefined;
}

/** §8.2 kick: moderators only; never someone of higher affiliation; not oneself. */
export function checkKick(actorRole: Role, actorAffiliation: Affiliation, actor: string, targetAffiliation: Affiliation, target: string): StanzaError | undefined {
  if (actorRole !== "moderator") return stanzaError("forbidden", "only moderators may kick");
  if (target === actor) return stanzaError("conflict", "you cannot kick yourself");
  if (AFFILIATION_RANK[targetAffiliation] > AFFILIATION_RANK[actorAffiliation]) {
    return stanzaError("not-allowed", `you cannot kick an ${targetAffiliation}`);
  }
  return undefined;
}

/**
 * Who may read an affiliation list (§9.5, §9.8, §10.5, §10.8):
 * the ban list: admins and owners; the member, admin and owner lists: also
 * members when real JIDs are public anyway (§9.5 note: non-anonymous rooms).
 */
export function checkListAccess(list: Affiliation, requester: Affiliation, whois: Whois): StanzaError | undefined {
  const rank = AFFILIATION_RANK[requester];
  if (rank >= AFFILIATION_RANK.admin) return undefined;
  if (list !== "outcast" && whois === "anyone" && rank >= AFFILIATION_RANK.member) return undefined;
  return stanzaError("forbidden", `you may not read the ${list} list`);
}

/** §5.2.1: who may change the room configuration or destroy the room. */
export function checkOwner(affiliation: Affiliation): StanzaError | undefined {
  return affiliation === "owner" ? undefined : stanzaError("forbidden", "only owners may do this");
}
