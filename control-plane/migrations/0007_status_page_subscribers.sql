-- Status page subscribers: people (email, double opt-in) and programs (webhook, Slack) told
-- of incidents and maintenance of a page, all of it or some of its monitors. Their messages go
-- through the notification outbox, beside the channels'.

-- The email channel whose SMTP server and sender address subscriber mail goes out through;
-- NULL: the page takes no email subscriptions.
ALTER TABLE status_pages ADD COLUMN subscriber_channel_id uuid
    REFERENCES notification_channels (id) ON DELETE SET NULL;

CREATE TABLE status_page_subscribers (
    id            uuid PRIMARY KEY,
    page_id       uuid NOT NULL REFERENCES status_pages (id) ON DELETE CASCADE,
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('email', 'webhook', 'slack')),
    -- An email address, or the URL posted to.
    target        text NOT NULL CHECK (length(target) BETWEEN 3 AND 2048),
    -- A webhook's signing key.
    secret        text,
    -- SHA-256 of the token in the confirm and unsubscribe links.
    token_digest  text NOT NULL UNIQUE,
    -- Empty: every monitor of the page.
    monitor_ids   uuid[] NOT NULL DEFAULT '{}',
    -- NULL until the link in the confirmation mail is followed; only confirmed subscribers are
    -- told anything, and only of what happened after.
    confirmed_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (page_id, kind, target)
);
CREATE INDEX status_page_subscribers_page ON status_page_subscribers (page_id) WHERE confirmed_at IS NOT NULL;

-- A notification goes to a channel or to a subscriber.
ALTER TABLE notifications ALTER COLUMN channel_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN subscriber_id uuid
    REFERENCES status_page_subscribers (id) ON DELETE CASCADE;
ALTER TABLE notifications ADD CONSTRAINT notifications_one_target
    CHECK ((channel_id IS NULL) <> (subscriber_id IS NULL));
CREATE UNIQUE INDEX notifications_subscriber_dedup ON notifications (subscriber_id, dedup_key)
    WHERE subscriber_id IS NOT NULL;
