-- Accounts and the per-recipient message queue (issue 2).

-- One row per local user. user_id is the canonical address without "wv:", lower-case,
-- always with its domain: "alice@imps.test".
CREATE TABLE users (
  user_id      TEXT PRIMARY KEY,
  domain       TEXT NOT NULL,
  -- AES-256-GCM sealed password (see src/auth/password-vault.ts): digest login needs a
  -- password-equivalent on the server, so it is kept encrypted with a key file in dataDir.
  password     TEXT NOT NULL,
  created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX users_by_domain ON users (domain);

-- One row per message, stored once however many recipients it has.
CREATE TABLE messages (
  message_id       TEXT PRIMARY KEY,
  sender           TEXT NOT NULL,          -- canonical address of the sending user
  content_type     TEXT NOT NULL,
  content          BLOB NOT NULL,          -- decoded bytes (UTF-8 for text)
  binary_content   INTEGER NOT NULL,       -- 1: deliver as BASE64; 0: as text
  created_at       INTEGER NOT NULL,       -- ms since epoch
  expires_at       INTEGER,                -- ms since epoch; NULL: no validity given
  delivery_report  INTEGER NOT NULL DEFAULT 0,
  recipients_json  TEXT NOT NULL           -- the Recipient element as addressed, for MessageInfo
) WITHOUT ROWID;

-- One row per (message, recipient) still to be delivered. Deleted on MessageDelivered.
-- seq keeps arrival order; offered_* mark a copy handed to one session and not yet acknowledged.
CREATE TABLE deliveries (
  seq              INTEGER PRIMARY KEY,
  message_id       TEXT NOT NULL REFERENCES messages (message_id) ON DELETE CASCADE,
  recipient        TEXT NOT NULL,
  offered_session  TEXT,
  offered_at       INTEGER,
  UNIQUE (recipient, message_id)
);
CREATE INDEX deliveries_by_recipient ON deliveries (recipient, seq);
CREATE INDEX deliveries_by_session ON deliveries (offered_session) WHERE offered_session IS NOT NULL;
CREATE INDEX deliveries_by_message ON deliveries (message_id);
