// The client SDK of urn:xmpp:mls:0 (docs/protocol.md): see client/README.md.
export { MlsClient, DEVICE_SUITE, type MlsClientOptions, type AffiliationOptions, type DestroyRoomOptions } from "./client.js";
export { ClientError, isClientError, type ClientErrorCode, type ClientErrorDetails } from "./errors.js";
export { XmppTransport, chooseMechanism, isLoopbackService, type Transport, type XmppTransportOptions, type SaslMechanism } from "./transport.js";
export { fingerprint, DEVICE_ID_RE, type DeviceRef } from "./mls-helpers.js";
export { STATE_FILE } from "./store.js";
export type { ServiceInfo, RoomInfo } from "./service.js";
export type * from "./types.js";
