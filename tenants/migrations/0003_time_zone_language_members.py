"""Tenant time zone, a person's language, and a public id for memberships (the members pages)."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def give_memberships_ids(apps, schema_editor):
    Membership = apps.get_model("tenants", "Membership")
    for membership in Membership.objects.filter(uid__isnull=True).only("pk"):
        Membership.objects.filter(pk=membership.pk).update(uid=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_subdomain_help_text"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="time_zone",
            field=models.CharField(
                choices=[
                    ("Asia/Jakarta", "WIB (Jakarta, Sumatra, Java, West/Central Kalimantan)"),
                    ("Asia/Makassar", "WITA (Bali, Nusa Tenggara, Sulawesi, East/South Kalimantan)"),
                    ("Asia/Jayapura", "WIT (Maluku, Papua)"),
                ],
                default="Asia/Jakarta",
                help_text="Times on this tenant's pages, e-mails and messages are shown in this zone.",
                max_length=40,
            ),
        ),
        migrations.AlterField(
            model_name="membership",
            name="role",
            field=models.CharField(
                choices=[("admin", "Admin"), ("staff", "Staff")], default="staff", max_length=10
            ),
        ),
        # Three steps so existing rows get distinct ids before the column becomes unique.
        migrations.AddField(
            model_name="membership",
            name="uid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(give_memberships_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="membership",
            name="uid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.CreateModel(
            name="UserPreference",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "language",
                    models.CharField(
                        blank=True, choices=[("id", "Bahasa Indonesia"), ("en", "English")], max_length=10
                    ),
                ),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="preference",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
    ]
