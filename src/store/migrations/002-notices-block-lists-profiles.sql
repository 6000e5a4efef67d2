-- Messaging in full (issue 3): durable server-originated requests, block/grant lists, and the
-- last capabilities each user's phone negotiated.

-- Server-originated requests owed to a user that must survive logout and restart (a
-- DeliveryReport-Request for a sender who is offline now, …). Rendered per CSP version when
-- handed out; deleted when the client answers with Status 200.
CREATE TABLE notices (
  seq              INTEGER PRIMARY KEY,
  recipient        TEXT NOT NULL,
  kind             TEXT NOT NULL,          -- e.g. 'DeliveryReport'
  payload          TEXT NOT NULL,          -- JSON, interpreted by the feature that owns the kind
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER NOT NULL,
  offered_session  TEXT,
  offered_at       INTEGER
);
CREATE INDEX notices_by_recipient ON notices (recipient, seq);
CREATE INDEX notices_by_session ON notices (offered_session) WHERE offered_session IS NOT NULL;

-- Block and grant lists (BlockEntity-Request). kind: 'user' | 'screenname' | 'group'.
CREATE TABLE access_entries (
  owner     TEXT NOT NULL,
  list      TEXT NOT NULL CHECK (list IN ('block', 'grant')),
  kind      TEXT NOT NULL,
  entity    TEXT NOT NULL,
  PRIMARY KEY (owner, list, kind, entity)
) WITHOUT ROWID;

CREATE TABLE access_flags (
  owner          TEXT PRIMARY KEY,
  block_in_use   INTEGER NOT NULL DEFAULT 0,
  grant_in_use   INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- What a user's phone last said it accepts, so a message for an offline user can be checked
-- against it (content types, lengths) when it is sent.
CREATE TABLE client_profiles (
  user_id        TEXT PRIMARY KEY,
  any_content    INTEGER NOT NULL,
  content_types  TEXT NOT NULL,          -- JSON array of accepted MIME types (empty: any)
  max_length     INTEGER,                -- largest content the phone can take at all (bytes)
  updated_at     INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX messages_by_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;
