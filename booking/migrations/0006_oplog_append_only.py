"""The operation log is append-only inside PostgreSQL: UPDATE is refused, DELETE only in the retention
purge's transaction."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION booking_oplog_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'operation log entries cannot be changed' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF coalesce(current_setting('madoguchi.oplog_purge', true), '') <> 'on' THEN
        RAISE EXCEPTION 'operation log entries are only removed by the retention purge'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER booking_oplog_guard BEFORE UPDATE OR DELETE ON booking_operationlogentry
    FOR EACH ROW EXECUTE FUNCTION booking_oplog_guard();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS booking_oplog_guard ON booking_operationlogentry;
DROP FUNCTION IF EXISTS booking_oplog_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("booking", "0005_staff")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
