-- User profiles (search): what a user search can look at besides user ids. Set by the operator
-- (`npm run village -- user set`); every field may be missing. user_id is canonical
-- ("alice@imps.test").
CREATE TABLE user_profiles (
  user_id        TEXT PRIMARY KEY,
  first_name     TEXT,
  last_name      TEXT,
  email          TEXT,
  mobile         TEXT,
  city           TEXT,
  country        TEXT,
  friendly_name  TEXT,
  updated_at     INTEGER NOT NULL
) WITHOUT ROWID;
