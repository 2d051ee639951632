// What a test needs from "the XMPP server", whichever it is: a private
// Prosody (prosody.ts) or a private ejabberd (ejabberd.ts). Both handles
// satisfy this interface, so a test or the e2e World can run on either.

export interface XmppUser {
  username: string;
  password: string;
}

export interface XmppServerHandle {
  /** The virtual host users log in to. */
  readonly host: string;
  readonly c2sPort: number;
  readonly componentPort: number;
  /** The XEP-0114 component's domain, and its shared secret. */
  readonly componentDomain: string;
  readonly componentSecret: string;
  /** An XEP-0033 multicast service for the component, when the server runs one. */
  readonly multicastDomain?: string;
  /** "xmpp://127.0.0.1:<c2sPort>": the `service` for @xmpp/client. */
  readonly c2sService: string;
  /** "xmpp://127.0.0.1:<componentPort>": the `service` for @xmpp/component. */
  readonly componentService: string;
  /** The instance's temp dir. Removed by stop(). */
  readonly dir: string;
  readonly configFile: string;
  readonly logFile: string;
  /** The server's pid while it runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Stops the server and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Stop (if running) and start again: same ports, same config, same accounts. */
  restart(): Promise<void>;
  /** Sends a signal (default SIGKILL: a crash); restart() brings it back. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  createUser(username: string, password: string): Promise<void>;
  createUsers(users: readonly XmppUser[]): Promise<void>;
  /** The last lines of the server's log, for failure messages. */
  logTail(lines?: number): string;
}
