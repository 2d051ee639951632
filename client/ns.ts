// XML namespaces used by the client SDK.

export const NS = {
  MLS: "urn:xmpp:mls:0",
  MLS_SERVICEINFO: "urn:xmpp:mls:0#serviceinfo",
  MLS_ROOMINFO: "urn:xmpp:mls:0#roominfo",
  CLIENT: "jabber:client",
  MUC: "http://jabber.org/protocol/muc",
  MUC_USER: "http://jabber.org/protocol/muc#user",
  MUC_ADMIN: "http://jabber.org/protocol/muc#admin",
  MUC_OWNER: "http://jabber.org/protocol/muc#owner",
  MUC_ROOMCONFIG: "http://jabber.org/protocol/muc#roomconfig",
  DISCO_INFO: "http://jabber.org/protocol/disco#info",
  DATA: "jabber:x:data",
  SID: "urn:xmpp:sid:0",
  EME: "urn:xmpp:eme:0",
  FALLBACK: "urn:xmpp:fallback:0",
  DELAY: "urn:xmpp:delay",
  STANZAS: "urn:ietf:params:xml:ns:xmpp-stanzas",
} as const;

/** The fallback body of every encrypted message (XEP-0428), saying nothing about its content. */
export const FALLBACK_BODY = "This message is encrypted with MLS (urn:xmpp:mls:0); your client does not support it.";
