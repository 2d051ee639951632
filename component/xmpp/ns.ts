// XML namespaces and feature vars, in one place.

export const NS = {
  /** RFC 6120 §8.3 stanza error conditions. */
  STANZAS: "urn:ietf:params:xml:ns:xmpp-stanzas",
  /** XEP-0045 */
  MUC: "http://jabber.org/protocol/muc",
  MUC_USER: "http://jabber.org/protocol/muc#user",
  MUC_ADMIN: "http://jabber.org/protocol/muc#admin",
  MUC_OWNER: "http://jabber.org/protocol/muc#owner",
  MUC_ROOMCONFIG: "http://jabber.org/protocol/muc#roomconfig",
  MUC_ROOMINFO: "http://jabber.org/protocol/muc#roominfo",
  MUC_STABLE_ID: "http://jabber.org/protocol/muc#stable_id",
  MUC_TRAFFIC: "http://jabber.org/protocol/muc#traffic",
  /** XEP-0410 (MUC self-ping): the room answers pings to occupant JIDs itself. */
  MUC_SELF_PING: "http://jabber.org/protocol/muc#self-ping-optimization",
  /** XEP-0030 */
  DISCO_INFO: "http://jabber.org/protocol/disco#info",
  DISCO_ITEMS: "http://jabber.org/protocol/disco#items",
  /** XEP-0004 */
  DATA: "jabber:x:data",
  /** XEP-0199 */
  PING: "urn:xmpp:ping",
  /** XEP-0359 */
  SID: "urn:xmpp:sid:0",
  /** XEP-0203 */
  DELAY: "urn:xmpp:delay",
  /** XEP-0085 */
  CHATSTATES: "http://jabber.org/protocol/chatstates",
  /** The project's MLS extension (docs/protocol.md). */
  MLS: "urn:xmpp:mls:0",
} as const;
