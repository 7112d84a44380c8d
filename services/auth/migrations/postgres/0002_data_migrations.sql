-- Changes to stored data made in Rust after the schema migrations, where SQL alone cannot make
-- them on every backend (`UserStore::migrate`): one row per change, done once `done_at` is set.
CREATE TABLE auth_data_migrations (
    name    TEXT PRIMARY KEY,
    done_at TIMESTAMPTZ
);
-- E-mail addresses stored before they were kept in Unicode NFC.
INSERT INTO auth_data_migrations (name) VALUES ('emails-nfc');
