-- 0001_init: the CRM schema of Merkazia (docs/crm-store.md describes it).
--
-- Applied by crm-store at start, in one transaction, and recorded in
-- schema_migrations. Every row a tenant owns carries business_id, and every
-- query crm-store runs for a browser user is scoped by it. Writes arrive at
-- least once: each table that receives them has a unique idempotency key
-- (call_sid, (call_sid, seq), event_id, idempotency_key, message_sid,
-- (business_id, phone)) so a re-sent write changes nothing.

-- Search folding for Hebrew: lower case, niqqud and cantillation
-- (U+0591..U+05C7) removed, geresh and gershayim and quotes removed, final
-- letters folded (ך ם ן ף ץ -> כ מ נ פ צ). Used for the stored search column
-- and for the query text, so "שָׁלוֹם" finds "שלום" and "דנ" finds "דן".
CREATE FUNCTION merkazia_fold(t text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN translate(
        regexp_replace(lower(t), '[\u0591-\u05C7\u05F3\u05F4''"]', '', 'g'),
        'ךםןףץ', 'כמנפצ');

-- Phone digits as people type them: "+972501234567" is also found as
-- "0501234567" and "972501234567".
CREATE FUNCTION merkazia_phone_forms(p text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN regexp_replace(p, '\D', '', 'g') ||
        CASE WHEN p LIKE '+972%' THEN ' 0' || substr(p, 5) ELSE '' END;

-- The text a customer is found by (array_to_string is only STABLE in
-- general; for text arrays it does not depend on any setting).
CREATE FUNCTION merkazia_customer_search(name text, phone text, cities text[],
        neighbourhoods text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN merkazia_fold(coalesce(name, '')) || ' ' ||
        coalesce(merkazia_phone_forms(phone), '') || ' ' ||
        merkazia_fold(coalesce(array_to_string(cities, ' '), '')) || ' ' ||
        merkazia_fold(coalesce(array_to_string(neighbourhoods, ' '), ''));

CREATE TABLE businesses (
    id                 bigserial PRIMARY KEY,
    name               text NOT NULL,
    greeting           text NOT NULL DEFAULT '',
    voice              text NOT NULL DEFAULT 'he-IL-Wavenet-A',
    agent_instructions text NOT NULL DEFAULT '',
    business_hours     jsonb NOT NULL DEFAULT '{}',
    transfer_number    text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- A business's Twilio numbers (E.164). A number belongs to one business.
CREATE TABLE business_numbers (
    number      text PRIMARY KEY CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
    business_id bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    channels    text[] NOT NULL DEFAULT '{voice,sms,whatsapp}'
);
CREATE INDEX business_numbers_business ON business_numbers (business_id);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    business_id   bigint REFERENCES businesses (id) ON DELETE CASCADE,
    email         text NOT NULL,
    name          text NOT NULL DEFAULT '',
    password_hash text NOT NULL, -- libsodium crypto_pwhash_str (Argon2id)
    role          text NOT NULL CHECK (role IN ('admin', 'owner', 'agent')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    CHECK (role = 'admin' OR business_id IS NOT NULL)
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

-- Browser sessions; the token itself is never stored, only its hash.
CREATE TABLE sessions (
    token_hash   text PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip           text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Customers and leads: one row per (business, E.164 phone).
CREATE TABLE customers (
    id             bigserial PRIMARY KEY,
    business_id    bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    phone          text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    name           text,
    source         text NOT NULL DEFAULT 'call'
                   CHECK (source IN ('call', 'whatsapp', 'sms', 'web', 'referral')),
    pipeline       text NOT NULL DEFAULT 'buyer_renter'
                   CHECK (pipeline IN ('buyer_renter', 'seller_landlord')),
    stage          text NOT NULL DEFAULT 'new',
    lead_score     smallint CHECK (lead_score BETWEEN 0 AND 100),
    sentiment      text,
    deal_type      text CHECK (deal_type IN ('buy', 'rent', 'sell', 'let')),
    cities         text[] NOT NULL DEFAULT '{}',
    neighbourhoods text[] NOT NULL DEFAULT '{}',
    rooms_min      numeric(3,1) CHECK (rooms_min >= 0 AND rooms_min * 2 = trunc(rooms_min * 2)),
    rooms_max      numeric(3,1) CHECK (rooms_max >= 0 AND rooms_max * 2 = trunc(rooms_max * 2)),
    budget_min     bigint CHECK (budget_min >= 0), -- shekels (₪)
    budget_max     bigint CHECK (budget_max >= 0),
    property_type  text,
    timeline       text,
    need_parking   boolean,
    need_elevator  boolean,
    need_mamad     boolean, -- ממ״ד, a protected room
    need_balcony   boolean,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    search         text GENERATED ALWAYS AS (merkazia_customer_search(
                       name, phone, cities, neighbourhoods)) STORED,
    UNIQUE (business_id, phone)
);
CREATE INDEX customers_business_updated ON customers (business_id, updated_at DESC);

CREATE TABLE calls (
    id            bigserial PRIMARY KEY,
    call_sid      text NOT NULL UNIQUE,
    business_id   bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    customer_id   bigint REFERENCES customers (id) ON DELETE SET NULL,
    direction     text NOT NULL DEFAULT 'inbound'
                  CHECK (direction IN ('inbound', 'outbound')),
    from_number   text,
    to_number     text,
    status        text NOT NULL DEFAULT 'ringing',
    started_at    timestamptz NOT NULL DEFAULT now(),
    answered_at   timestamptz,
    ended_at      timestamptz,
    duration_s    integer CHECK (duration_s >= 0),
    recording_url text,
    fallback_used boolean NOT NULL DEFAULT false,
    summary       text,
    sentiment     text,
    lead_score    smallint CHECK (lead_score BETWEEN 0 AND 100),
    extracted     jsonb,
    latency       jsonb,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_business_started ON calls (business_id, started_at DESC);
CREATE INDEX calls_customer ON calls (customer_id);
CREATE INDEX calls_open ON calls (started_at) WHERE ended_at IS NULL;

-- Turns and call events refer to their call by call_sid, not by a foreign
-- key: writes arrive at least once and may arrive before the call's own.
CREATE TABLE turns (
    id             bigserial PRIMARY KEY,
    call_sid       text NOT NULL,
    seq            integer NOT NULL CHECK (seq >= 0),
    speaker        text NOT NULL CHECK (speaker IN ('caller', 'agent', 'system')),
    heard_text     text, -- what the caller said, or what of the agent's reply was heard
    generated_text text, -- the agent's whole reply, heard or not
    start_ms       integer,
    end_ms         integer,
    interrupted    boolean NOT NULL DEFAULT false,
    stt_confidence real,
    latency        jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (call_sid, seq)
);

CREATE TABLE call_events (
    id         bigserial PRIMARY KEY,
    event_id   text NOT NULL UNIQUE,
    call_sid   text NOT NULL,
    type       text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    data       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX call_events_call ON call_events (call_sid, at);

-- Append-only tables refuse UPDATE and DELETE.
CREATE FUNCTION merkazia_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END $$;
CREATE TRIGGER call_events_append_only BEFORE UPDATE OR DELETE ON call_events
    FOR EACH ROW EXECUTE FUNCTION merkazia_append_only();

-- Viewing requests (the agent books them; staff confirm).
CREATE TABLE appointments (
    id              bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    business_id     bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    customer_id     bigint REFERENCES customers (id) ON DELETE SET NULL,
    call_sid        text,
    starts_at       timestamptz,
    requested_text  text, -- the caller's own words ("ביום שלישי אחרי הצהריים")
    address         text,
    notes           text,
    status          text NOT NULL DEFAULT 'requested'
                    CHECK (status IN ('requested', 'confirmed', 'done', 'cancelled')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointments_business ON appointments (business_id, starts_at);

CREATE TABLE tasks (
    id              bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    business_id     bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    customer_id     bigint REFERENCES customers (id) ON DELETE SET NULL,
    call_sid        text,
    title           text NOT NULL,
    due_at          timestamptz,
    done            boolean NOT NULL DEFAULT false,
    suggested       boolean NOT NULL DEFAULT false, -- proposed by the AI
    assignee_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_business ON tasks (business_id, due_at);

CREATE TABLE notes (
    id              bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    business_id     bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    customer_id     bigint REFERENCES customers (id) ON DELETE SET NULL,
    call_sid        text,
    author_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_business ON notes (business_id, created_at);

-- SMS and WhatsApp messages, both directions.
CREATE TABLE messages (
    id          bigserial PRIMARY KEY,
    message_sid text NOT NULL UNIQUE,
    business_id bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    customer_id bigint REFERENCES customers (id) ON DELETE SET NULL,
    channel     text NOT NULL CHECK (channel IN ('sms', 'whatsapp')),
    direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    from_number text,
    to_number   text,
    body        text NOT NULL DEFAULT '',
    status      text NOT NULL DEFAULT 'received',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_business ON messages (business_id, created_at);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    business_id bigint,
    user_id     bigint,
    action      text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION merkazia_append_only();
