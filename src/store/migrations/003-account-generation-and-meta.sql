-- A password change or an account deletion must end the account's live sessions: sessions
-- remember the generation they logged in with and stop when it changes.
ALTER TABLE users ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

-- Facts about the installation itself, e.g. which secret key sealed the passwords.
CREATE TABLE meta (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) WITHOUT ROWID;
