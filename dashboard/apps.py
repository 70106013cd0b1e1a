from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboard"

    def ready(self) -> None:
        from dashboard import pollcache

        pollcache.connect()  # the poll cache's invalidation on every model save and delete an answer reads
