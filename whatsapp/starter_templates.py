"""The Bahasa Indonesia templates every tenant starts with (editable; names are stable)."""

from __future__ import annotations

STARTER_TEMPLATES: dict[str, str] = {
    "confirmation": (
        "Halo {nama}, booking Anda untuk {layanan} pada {tanggal} pukul {jam} sudah kami "
        "konfirmasi. Sampai jumpa!"
    ),
    "reminder": (
        "Halo {nama}, kami ingatkan jadwal {layanan} Anda pada {tanggal} pukul {jam}. "
        "Balas YA untuk konfirmasi atau BATAL jika berhalangan."
    ),
    "rescheduled": (
        "Halo {nama}, jadwal {layanan} Anda sudah diubah ke {tanggal} pukul {jam}. "
        "Balas pesan ini jika waktu tersebut tidak cocok."
    ),
    "cancelled": (
        "Halo {nama}, booking {layanan} Anda pada {tanggal} pukul {jam} telah dibatalkan. "
        "Hubungi kami jika ingin membuat jadwal baru."
    ),
}
