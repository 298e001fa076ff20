"""The inbox at scale (issue 11, item 8): a "needs attention" flag on conversations with its
partial index, and, on PostgreSQL only, trigram indexes for the contact search."""

from django.db import migrations, models

ATTENTION_STATUSES = ("failed", "expired", "unconfirmed")

# The contact half of the inbox search is `UPPER(col::text) LIKE UPPER('%q%')` (Django's
# icontains on PostgreSQL); these expression indexes serve exactly that form.
TRIGRAM_INDEXES = {
    "conversation_contact_trgm": "contact",
    "conversation_name_trgm": "contact_name",
    "conversation_lid_trgm": "contact_lid",
}


def flag_conversations(apps, schema_editor):
    Conversation = apps.get_model("whatsapp", "Conversation")
    Message = apps.get_model("whatsapp", "Message")
    troubled = Message.objects.filter(status__in=ATTENTION_STATUSES).values("conversation_id")
    Conversation.objects.filter(pk__in=troubled).update(needs_attention=True)


def add_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite keeps its plain LIKE scan: small installs, one tenant's rows
    # What django.contrib.postgres's TrigramExtension does, minus its way back: that one drops
    # the extension (other indexes may use it) and fails on SQLite when unapplied.
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    table = schema_editor.quote_name(apps.get_model("whatsapp", "Conversation")._meta.db_table)
    for name, column in TRIGRAM_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)} ON {table} "
            f"USING gin ((UPPER({schema_editor.quote_name(column)}::text)) gin_trgm_ops) "
            # Written straight into the index, not a pending list: every message updates its
            # conversation row, and a pending list (read in full by every search until the next
            # vacuum) made a search on a busy tenant 10x slower.
            "WITH (fastupdate = off)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0003_time_zone_language_members"),
        ("whatsapp", "0008_auditevent_to_core"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="needs_attention",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(flag_conversations, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="conversation",
            index=models.Index(
                condition=models.Q(("last_message_at__isnull", False), ("needs_attention", True)),
                fields=["tenant", "-last_message_at", "-last_message_seq", "-id"],
                name="conversation_attention",
            ),
        ),
        migrations.RunPython(add_trigram_indexes, drop_trigram_indexes),
    ]
