-- 0003_browser_edits: what the browser's edits need (issues #12, #13).
--
-- The browser now creates and changes customers, notes, tasks,
-- appointments, users and the business's settings (crm-store/edits.c), and
-- each change is recorded in audit_log with the user who made it. The
-- customer page's activity timeline and GET /api/audit read those rows by
-- the record they are about, so audit_log gains the entity and its id
-- (NULL for sign-in entries, which are about no record) and an index for
-- that lookup. Rows written before this migration keep NULL there.

ALTER TABLE audit_log ADD COLUMN entity text;
ALTER TABLE audit_log ADD COLUMN entity_id bigint;
CREATE INDEX audit_log_entity ON audit_log (business_id, entity, entity_id, at DESC)
    WHERE entity IS NOT NULL;
CREATE INDEX audit_log_business ON audit_log (business_id, at DESC);

-- Task lists: "mine" and "overdue" filter by assignee and due date.
CREATE INDEX tasks_assignee ON tasks (business_id, assignee_id)
    WHERE assignee_id IS NOT NULL;
CREATE INDEX tasks_customer ON tasks (customer_id);
CREATE INDEX notes_customer ON notes (customer_id);
CREATE INDEX appointments_customer ON appointments (customer_id);

-- A task's assignee, like a customer's, must be a user of its business
-- (a foreign key to users alone would accept another tenant's user).
CREATE FUNCTION merkazia_task_assignee() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.assignee_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM users u WHERE u.id = NEW.assignee_id
            AND u.business_id = NEW.business_id) THEN
        RAISE EXCEPTION 'user % is not a user of business %',
            NEW.assignee_id, NEW.business_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER tasks_assignee
    BEFORE INSERT OR UPDATE OF assignee_id, business_id ON tasks
    FOR EACH ROW EXECUTE FUNCTION merkazia_task_assignee();

-- A time the browser sends: a date (YYYY-MM-DD, midnight in Israel) or a
-- time with an offset. Malformed text raises 22007, which crm-store
-- answers as invalid.
CREATE FUNCTION merkazia_local_time(t text) RETURNS timestamptz
    LANGUAGE sql STABLE STRICT
    RETURN CASE WHEN t ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'
        THEN t::date::timestamp AT TIME ZONE 'Asia/Jerusalem'
        ELSE t::timestamptz END;

-- The Sunday that starts the week of t, at midnight in Israel.
CREATE FUNCTION merkazia_week_start(t timestamptz) RETURNS timestamptz
    LANGUAGE sql STABLE STRICT
    RETURN ((t AT TIME ZONE 'Asia/Jerusalem')::date -
        extract(dow FROM t AT TIME ZONE 'Asia/Jerusalem')::integer)::timestamp
        AT TIME ZONE 'Asia/Jerusalem';
