// Migration 2: the MLS side (docs/protocol.md §9). Tables reference
// rooms(jid) ON DELETE CASCADE, so deleting a room removes its group, log,
// spans, cursors and pending proposals.

export const MLS_TABLES = `
  CREATE TABLE mls_devices (
    bare_jid      TEXT    NOT NULL,
    device_id     TEXT    NOT NULL,
    retired       INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
    last_jid      TEXT,
    registered_at INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    PRIMARY KEY (bare_jid, device_id)
  );

  CREATE TABLE mls_key_packages (
    ref           BLOB    PRIMARY KEY,
    bare_jid      TEXT    NOT NULL,
    device_id     TEXT    NOT NULL,
    data          BLOB    NOT NULL,
    last_resort   INTEGER NOT NULL CHECK (last_resort IN (0, 1)),
    not_after     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    -- Claimed for an Add in this room (non-last-resort packages only).
    reserved_room TEXT,
    FOREIGN KEY (bare_jid, device_id) REFERENCES mls_devices (bare_jid, device_id) ON DELETE CASCADE
  );
  CREATE INDEX mls_key_packages_by_device ON mls_key_packages (bare_jid, device_id, last_resort, created_at);

  CREATE TABLE mls_groups (
    room          TEXT    PRIMARY KEY REFERENCES rooms (jid) ON DELETE CASCADE,
    group_id      BLOB    NOT NULL UNIQUE,
    cipher_suite  INTEGER NOT NULL,
    epoch         INTEGER NOT NULL CHECK (epoch >= 0),
    epoch_id      BLOB    NOT NULL,
    state         BLOB    NOT NULL,
    group_info    BLOB    NOT NULL,
    removal_epoch INTEGER NOT NULL,
    next_seq      INTEGER NOT NULL CHECK (next_seq >= 1),
    bound_at      INTEGER NOT NULL
  );

  -- The room's history of epochs is a DAG (epoch id = hash of the message that
  -- created it, with its parent), ready for forks after a netsplit. While one
  -- sequencer orders the room, (room, epoch) is unique: the first commit wins.
  CREATE TABLE mls_epochs (
    room       TEXT    NOT NULL REFERENCES rooms (jid) ON DELETE CASCADE,
    epoch_id   BLOB    NOT NULL,
    epoch      INTEGER NOT NULL,
    parent_id  BLOB,
    commit_seq INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (room, epoch_id)
  );
  CREATE UNIQUE INDEX mls_epochs_one_per_number ON mls_epochs (room, epoch);

  CREATE TABLE mls_log (
    room          TEXT    NOT NULL REFERENCES rooms (jid) ON DELETE CASCADE,
    seq           INTEGER NOT NULL CHECK (seq >= 1),
    kind          TEXT    NOT NULL CHECK (kind IN ('proposal', 'commit', 'application')),
    epoch         INTEGER NOT NULL,
    stanza_id     TEXT    NOT NULL,
    client_id     TEXT,
    origin_id     TEXT,
    sender_jid    TEXT,
    sender_device TEXT,
    sender_nick   TEXT,
    payload       BLOB    NOT NULL,
    welcome       BLOB,
    ratchet_tree  BLOB,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (room, seq)
  );
  CREATE UNIQUE INDEX mls_log_stanza_id ON mls_log (room, stanza_id);

  -- Delivery records: which seq ranges of the log reach which device.
  CREATE TABLE mls_spans (
    room          TEXT    NOT NULL REFERENCES rooms (jid) ON DELETE CASCADE,
    bare_jid      TEXT    NOT NULL,
    device_id     TEXT    NOT NULL,
    from_seq      INTEGER NOT NULL,
    via_welcome   INTEGER NOT NULL CHECK (via_welcome IN (0, 1)),
    app_until_seq INTEGER,
    until_seq     INTEGER,
    PRIMARY KEY (room, bare_jid, device_id, from_seq)
  );

  CREATE TABLE mls_cursors (
    room          TEXT    NOT NULL REFERENCES rooms (jid) ON DELETE CASCADE,
    bare_jid      TEXT    NOT NULL,
    device_id     TEXT    NOT NULL,
    delivered_seq INTEGER NOT NULL,
    PRIMARY KEY (room, bare_jid, device_id)
  );

  CREATE TABLE mls_pending (
    room            TEXT    NOT NULL REFERENCES rooms (jid) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    ref             BLOB    NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('add', 'remove')),
    bare_jid        TEXT    NOT NULL,
    device_id       TEXT    NOT NULL,
    leaf            INTEGER,
    key_package_ref BLOB,
    PRIMARY KEY (room, seq)
  );

  CREATE TABLE service_meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
  );
`;
