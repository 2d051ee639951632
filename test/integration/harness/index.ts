// The integration-test harness: a private Prosody or ejabberd, and small XMPP helpers.
export {
  ensureProsody,
  ProsodyError,
  startProsody,
  type ProsodyHandle,
  type ProsodyInstallation,
  type ProsodyUser,
  type StartProsodyOptions,
} from "./prosody.js";
export {
  EjabberdError,
  ensureEjabberd,
  startEjabberd,
  type EjabberdHandle,
  type EjabberdInstallation,
  type EjabberdUser,
  type StartEjabberdOptions,
} from "./ejabberd.js";
export type { XmppServerHandle, XmppUser } from "./server.js";
export {
  connectClient,
  connectComponent,
  nextStanza,
  nextStatus,
  type ConnectClientOptions,
  type ConnectComponentOptions,
  type TestClient,
  type TestComponent,
} from "./client.js";
export { canConnect, freePorts, LOOPBACK } from "./ports.js";
