-- Users the bot has seen, by @username, so that moderators can name them
-- ("/quota add @bob 3"): Telegram offers bots no lookup of a user by username.
CREATE TABLE known_users (
    platform     TEXT NOT NULL,
    username     TEXT NOT NULL,  -- lower case, without the @
    user_id      TEXT NOT NULL,
    display_name TEXT NOT NULL,
    seen_at      TEXT NOT NULL,
    PRIMARY KEY (platform, username)
) WITHOUT ROWID;
