from django.urls import path

from videos import views

app_name = "videos"

urlpatterns = [
    path("", views.try_page, name="try"),
    path("try/", views.try_page, name="try-alias"),
    path("try/quote/", views.price_quote, name="price-quote"),
    path("videos/", views.history, name="history"),
    path("videos/<str:video_id>/", views.video_detail, name="video-detail"),
    path("videos/<str:video_id>/cancel/", views.video_cancel, name="video-cancel"),
    path("videos/<str:video_id>/retry/", views.video_retry, name="video-retry"),
    path("videos/<str:video_id>/again/", views.video_again, name="video-again"),
    path("sessions/", views.session_list, name="sessions"),
    path("sessions/<str:session_id>/", views.session_detail, name="session-detail"),
    path("sessions/<str:session_id>/stop/", views.session_stop, name="session-stop"),
    path("sessions/<str:session_id>/delete/", views.session_delete, name="session-delete"),
    path("pricing/", views.pricing, name="pricing"),
]
