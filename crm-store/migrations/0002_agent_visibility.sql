-- 0002_agent_visibility: what an agent of a business sees.
--
-- The admin manages the whole installation; an owner and an agent belong to
-- one business, and an agent sees only what the owner shares with them
-- (docs/crm-store.md, "Roles"). The owner shares a customer by assigning
-- it to the agent (customers.assigned_user_id); the business decides
-- whether that is all its agents see or whether they see everything
-- (businesses.agents_see). crm-store's reads apply it: this file only
-- stores it.
--
-- The default is 'assigned' on purpose: a business that never chose shows
-- its agents less, never more. An existing business with agents therefore
-- shows them nothing until its owner assigns customers or chooses 'all'.

ALTER TABLE businesses ADD COLUMN agents_see text NOT NULL DEFAULT 'assigned'
    CHECK (agents_see IN ('all', 'assigned'));

-- The user a customer is assigned to. A deleted user leaves the customer
-- unassigned (the owner still sees it and can assign it again).
ALTER TABLE customers ADD COLUMN assigned_user_id bigint
    REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX customers_assigned ON customers (business_id, assigned_user_id)
    WHERE assigned_user_id IS NOT NULL;

-- The assignee must be a user of the customer's own business: a foreign key
-- to users alone would accept another tenant's agent (or the admin, who has
-- no business), and that agent would then see nothing of it anyway while
-- the owner believed it shared. Refused with SQLSTATE 23503 like any
-- foreign key, so a write that tries it is answered STORE_ERROR invalid.
CREATE FUNCTION merkazia_customer_assignee() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.assigned_user_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM users u WHERE u.id = NEW.assigned_user_id
            AND u.business_id = NEW.business_id) THEN
        RAISE EXCEPTION 'user % is not a user of business %',
            NEW.assigned_user_id, NEW.business_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER customers_assignee
    BEFORE INSERT OR UPDATE OF assigned_user_id, business_id ON customers
    FOR EACH ROW EXECUTE FUNCTION merkazia_customer_assignee();
