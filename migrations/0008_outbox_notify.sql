-- The relay (core/relay.py) LISTENs on trioxide_outbox: every transaction that writes outbox
-- rows wakes it at commit (NOTIFY is delivered only if the transaction commits, and once per
-- transaction however many rows it wrote). Polling stays as the fallback.

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('trioxide_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
