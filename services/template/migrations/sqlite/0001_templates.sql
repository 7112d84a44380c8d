-- Templates as JSON documents, with the columns that filters, sorts and the search need.
CREATE TABLE templates (
    id          TEXT PRIMARY KEY,
    owner_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    category    TEXT NOT NULL,
    visibility  TEXT NOT NULL CHECK (visibility IN ('private', 'public')),
    -- Lower-cased name, description and tags, for `q`.
    search      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX templates_owner_created ON templates (owner_id, created_at, id);
CREATE INDEX templates_owner_updated ON templates (owner_id, updated_at, id);
CREATE INDEX templates_owner_name ON templates (owner_id, name, id);
CREATE INDEX templates_visibility_created ON templates (visibility, created_at, id);
CREATE INDEX templates_category ON templates (category);
