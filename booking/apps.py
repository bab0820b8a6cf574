from django.apps import AppConfig


class BookingConfig(AppConfig):
    name = "booking"
    verbose_name = "Booking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from booking.engine import availability_cache

        availability_cache.install()  # every connection moves the availability cache's generations
