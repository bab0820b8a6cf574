"""Signed checkpoints of every tenant's operation log, in the public schema (SO-06), and a trigger that
keeps them append-only.

The trigger refuses UPDATE, DELETE and TRUNCATE for every role, the owner included; only a superuser (who
can switch triggers off) or a migration that drops it gets past. In production the tenant schemas' role
must not be that superuser nor own this table: see docs/architecture.md, "Operation log and tamper
evidence".
"""

from django.db import migrations, models

FORWARD = """
CREATE FUNCTION tenants_oplog_checkpoint_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'operation-log checkpoints are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER tenants_oplog_checkpoint_guard BEFORE UPDATE OR DELETE ON tenants_oplogcheckpoint
    FOR EACH ROW EXECUTE FUNCTION tenants_oplog_checkpoint_guard();
CREATE TRIGGER tenants_oplog_checkpoint_no_truncate BEFORE TRUNCATE ON tenants_oplogcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION tenants_oplog_checkpoint_guard();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS tenants_oplog_checkpoint_no_truncate ON tenants_oplogcheckpoint;
DROP TRIGGER IF EXISTS tenants_oplog_checkpoint_guard ON tenants_oplogcheckpoint;
DROP FUNCTION IF EXISTS tenants_oplog_checkpoint_guard();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_offboarding_record"),
    ]

    operations = [
        migrations.CreateModel(
            name="OplogCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("schema_name", models.CharField(max_length=63, verbose_name="スキーマ")),
                ("kind", models.CharField(max_length=10, verbose_name="種類")),
                ("seq", models.BigIntegerField(verbose_name="番号")),
                ("digest", models.CharField(max_length=64)),
                ("at", models.DateTimeField(verbose_name="日時")),
                ("signature", models.CharField(max_length=64)),
            ],
            options={
                "verbose_name": "操作ログのチェックポイント",
                "indexes": [
                    models.Index(fields=["schema_name", "seq"], name="tenants_checkpoint_schema_seq")
                ],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
