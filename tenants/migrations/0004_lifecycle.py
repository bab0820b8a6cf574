# Reserved ahead so that concurrent work never numbers two migrations alike; holds only its own operations.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [('tenants', '0003_oplog_checkpoint')]

    # a municipality's lifecycle (issue 14 §3): suspension, and the disposal certificate of offboarding
    operations: list = [
        migrations.AddField(
            model_name='municipality',
            name='suspended_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='利用停止日時'),
        ),
        migrations.AddField(
            model_name='municipality',
            name='suspended_by',
            field=models.CharField(blank=True, max_length=150, verbose_name='利用停止した運用者'),
        ),
        migrations.AddField(
            model_name='municipality',
            name='suspension_reason',
            field=models.CharField(blank=True, max_length=500, verbose_name='利用停止の理由'),
        ),
        migrations.AddField(
            model_name='offboardingrecord',
            name='export_sha256',
            field=models.CharField(blank=True, max_length=64, verbose_name='最終出力のSHA-256'),
        ),
        migrations.AddField(
            model_name='offboardingrecord',
            name='asked_by',
            field=models.CharField(blank=True, max_length=200, verbose_name='依頼者（自治体）'),
        ),
        migrations.AddField(
            model_name='offboardingrecord',
            name='started_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='開始日時'),
        ),
        migrations.AddField(
            model_name='offboardingrecord',
            name='tables',
            field=models.JSONField(blank=True, default=list, verbose_name='削除した表と行数'),
        ),
        migrations.AddField(
            model_name='offboardingrecord',
            name='files',
            field=models.JSONField(blank=True, default=list, verbose_name='削除したファイル'),
        ),
        migrations.AlterModelOptions(
            name='offboardingrecord',
            options={'ordering': ['-pk'], 'verbose_name': '解約・データ削除の記録'},
        ),
        migrations.AddField(
            model_name='offboardingrecord',
            name='error',
            field=models.TextField(blank=True, verbose_name='エラー'),
        ),
        migrations.AddField(
            model_name='offboardingrecord',
            name='status',
            field=models.CharField(choices=[('requested', '受付済み'), ('running', '実行中'), ('done', '完了'), ('failed', '失敗')], default='requested', max_length=10, verbose_name='状態'),
        ),
        # the records made before this migration are of offboardings that were carried out in full
        migrations.RunSQL("UPDATE tenants_offboardingrecord SET status = 'done'", migrations.RunSQL.noop),
        migrations.AlterField(
            model_name='offboardingrecord',
            name='export_key',
            field=models.CharField(blank=True, max_length=300, verbose_name='最終出力の保存先'),
        ),
        migrations.AlterField(
            model_name='offboardingrecord',
            name='export_size',
            field=models.BigIntegerField(default=0, verbose_name='最終出力のサイズ'),
        ),
        migrations.AlterField(
            model_name='offboardingrecord',
            name='offboarded_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='削除日時'),
        ),
    ]
