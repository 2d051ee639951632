// Type declarations for @xmpp/jid (the package ships none). Only what
// component/xmpp/jid.ts uses.

declare module "@xmpp/jid" {
  export class JID {
    constructor(local: string | null | undefined, domain: string, resource?: string | null);
    local: string;
    domain: string;
    resource: string;
    bare(): JID;
    toString(unescape?: boolean): string;
    equals(other: JID): boolean;
  }
  export function parse(address: string): JID;
  export function jid(address: string): JID;
  export function jid(local: string | null | undefined, domain: string, resource?: string | null): JID;
}
