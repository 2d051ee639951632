// The persistent store behind an interface (SQLite now; PostgreSQL later).
export type { AffiliationStore, RoomStore, Store, StoreTx, TransactionOptions } from "./store.js";
export { isStoreError, StoreError, type StoreErrorCode } from "./errors.js";
export * from "./types.js";
export type * from "./mls-types.js";
export type { DeviceStore, GroupStore, KeyPackageStore, LogStore, MetaStore, MlsStoreTx } from "./mls-store.js";
export { openSqliteStore, SqliteStore, type OpenSqliteStoreOptions } from "./sqlite/store.js";
export { LATEST_VERSION, MIGRATIONS, type Migration, type MigrationDb } from "./sqlite/migrations.js";
