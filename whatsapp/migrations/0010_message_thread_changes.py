"""An index of each thread's newest change, and on PostgreSQL a trigger that stamps every write.

Message.updated_at is Django's auto_now, which QuerySet.update() (how statuses move) leaves
alone. On PostgreSQL a trigger sets it from the database clock on every insert and update, so
an open thread's poll reads one index entry (the thread's newest change) instead of
aggregating its latest hundred messages. SQLite keeps computing the stamp from the rows.
"""

from django.db import migrations, models

TOUCH = """
CREATE OR REPLACE FUNCTION whatsapp_message_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END
$$;
CREATE TRIGGER whatsapp_message_touch BEFORE INSERT OR UPDATE ON whatsapp_message
    FOR EACH ROW EXECUTE FUNCTION whatsapp_message_touch();
"""
UNTOUCH = """
DROP TRIGGER IF EXISTS whatsapp_message_touch ON whatsapp_message;
DROP FUNCTION IF EXISTS whatsapp_message_touch();
"""


def touch(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TOUCH)


def untouch(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNTOUCH)


class Migration(migrations.Migration):
    dependencies = [
        ("whatsapp", "0009_conversation_attention_search"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["conversation", "updated_at"], name="message_thread_changes"),
        ),
        migrations.RunPython(touch, untouch),
    ]
