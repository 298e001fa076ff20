"""AuditEvent moved to the core app: drop it from whatsapp's state only (the table stays, now
owned by core.AuditEvent), and hand its content type to core so permissions granted on it
survive."""

from django.db import migrations


def content_type_to_core(apps, schema_editor):
    _move_content_type(apps, schema_editor, "whatsapp", "core")


def content_type_to_whatsapp(apps, schema_editor):
    _move_content_type(apps, schema_editor, "core", "whatsapp")


def _move_content_type(apps, schema_editor, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    # A fresh database has no content types yet (post_migrate creates them): nothing to move.
    # If the new one exists already, the old one is left to remove_stale_contenttypes.
    if not types.filter(app_label=new, model="auditevent").exists():
        types.filter(app_label=old, model="auditevent").update(app_label=new)


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_initial"),
        ("whatsapp", "0007_merge_inbox_scheduling"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditEvent")],
            database_operations=[],
        ),
        migrations.RunPython(content_type_to_core, content_type_to_whatsapp),
    ]
